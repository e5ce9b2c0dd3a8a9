#!/usr/bin/env bash
# Evaluate rethread's theme coding on the labelled sets in ../shared/data/labeled, with the
# codebooks in fixtures/codebooks (written from the label names, before reading the texts).
#
#   bash bench/themes_eval.sh            # prints both reports
#   WORK=/some/dir bash bench/themes_eval.sh
#
# The labelled files are converted to rethread's gold CSV (id,text,themes) in $WORK; nothing is
# written into the repository or into shared/.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SHARED_DATA:-$here/../shared/data}"
work="${WORK:-${TMPDIR:-/tmp}/rethread-eval}"
mkdir -p "$work"
labeled="$shared/labeled"
[ -d "$labeled" ] || { echo "no $labeled: nothing to evaluate" >&2; exit 1; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$here/target}/release/rethread"

python3 - "$labeled" "$work" <<'PY'
import csv, sys
labeled, work = sys.argv[1], sys.argv[2]
# complaints-data.csv: headerless id,text,complaint,domain
with open(f"{labeled}/complaints-data.csv", newline="", encoding="utf-8") as f, \
     open(f"{work}/complaints-gold.csv", "w", newline="", encoding="utf-8") as out:
    w = csv.writer(out)
    w.writerow(["id", "text", "themes"])
    for row in csv.reader(f):
        w.writerow([row[0], row[1], "complaint" if row[2].strip() == "1" else ""])
# TwACS: one intent tag per dialog; OTHER is no theme.
with open(f"{labeled}/twacs_airlines_500onlyb.csv", newline="", encoding="utf-8") as f, \
     open(f"{work}/twacs-gold.csv", "w", newline="", encoding="utf-8") as out:
    w = csv.writer(out)
    w.writerow(["id", "text", "themes"])
    for row in csv.DictReader(f):
        tag = row["tag"].strip()
        w.writerow([row["first_tweet_id"], row["first_utterance"], "" if tag == "OTHER" else tag.lower()])
PY

echo "== complaints-data.csv (complaint = 1), codebook fixtures/codebooks/complaints.toml"
"$bin" themes eval --codebook "$here/fixtures/codebooks/complaints.toml" --gold "$work/complaints-gold.csv" --show 5
echo
echo "== twacs_airlines_500onlyb.csv (14 intents, OTHER = none), codebook fixtures/codebooks/twacs-airlines.toml"
"$bin" themes eval --codebook "$here/fixtures/codebooks/twacs-airlines.toml" --gold "$work/twacs-gold.csv" --show 5

# The model coders need a sentence-embedding model (--model DIR, else RETHREAD_MODEL, else the
# Hugging Face cache); without one, the patterns' reports above are all there is.
if ! "$bin" themes model >/dev/null 2>&1; then
  echo
  echo "no embedding model found (see \`rethread themes model\`): semantic and learned codes not measured" >&2
  exit 0
fi

# Semantic: the same codebooks with every theme opted in (`semantic = true`): the prototypes are
# the labels, descriptions and examples written before the texts were read; the patterns are
# unchanged.
for set in complaints twacs-airlines; do
  python3 - "$here/fixtures/codebooks/$set.toml" "$work/$set-semantic.toml" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r"^(\[\[theme\]\])$", r"\1\nsemantic = true", text, flags=re.M)
open(sys.argv[2], "w", encoding="utf-8").write(text)
PY
done

# Learned and combined: 5-fold cross-validation (the seed fixed, so the figures repeat), once
# with the patterns' codebook and once with the semantic one. Each run embeds the texts once, and
# its `by_coder.codebook` is the codebook alone (patterns; patterns and semantic), measured on
# the same texts, so two runs per set give every column.
run() {  # run NAME CODEBOOK GOLD ARGS... -> $work/NAME.json
  local name=$1 book=$2 gold=$3; shift 3
  "$bin" themes eval --codebook "$book" --gold "$gold" --format json "$@" > "$work/$name.json"
}
for set in complaints:complaints twacs:twacs-airlines; do
  gold="$work/${set%%:*}-gold.csv"; book="${set#*:}"
  run "${set%%:*}-cv" "$here/fixtures/codebooks/$book.toml" "$gold" --cv 5 --seed 1
  run "${set%%:*}-cv-semantic" "$work/$book-semantic.toml" "$gold" --cv 5 --seed 1
done

echo
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
ref = {"complaints": 0.78, "twacs": 0.54}
def load(name):
    return json.load(open(f"{work}/{name}.json", encoding="utf-8"))
print("micro-F1 (learned and combined: 5-fold cross-validation, seed 1)")
print(f"{'set':<12} {'patterns':>9} {'semantic':>9} {'learned':>9} {'patterns+learned':>17} {'all three':>10} {'prototype':>10}")
for s in ("complaints", "twacs"):
    cv, cvs = load(f"{s}-cv"), load(f"{s}-cv-semantic")
    patterns, semantic = cv["by_coder"]["codebook"], cvs["by_coder"]["codebook"]
    print(f"{s:<12} {patterns['micro']['f1']:>9.3f} {semantic['micro']['f1']:>9.3f}"
          f" {cv['by_coder']['learned']['micro']['f1']:>9.3f} {cv['micro']['f1']:>17.3f}"
          f" {cvs['micro']['f1']:>10.3f} {ref[s]:>10.2f}")
print("semantic = the codebook with semantic = true on every theme (patterns and semantic codes);")
print("prototype = 5-fold logistic regression on the same model's embeddings (issue 12)")
print()
print("learning curve (learned micro-F1 by coded texts per theme in training):")
for s in ("complaints", "twacs"):
    cv = load(f"{s}-cv")
    points = ", ".join(f"{p['labels_per_theme']}: {p['micro']['f1']:.3f}" for p in cv["curve"])
    left = ", ".join(f"{l['labels_per_theme']} (theme {l['theme']} has {l['positives']})" for l in cv["curve_left_out"])
    print(f"  {s:<12} {points or '-'}" + (f"; left out: {left}" if left else ""))
PY
