#!/usr/bin/env bash
# How well `rethread themes discover` finds themes, measured on the labelled sets in
# ../shared/data/labeled with their gold labels as the reference: NMI and ARI of the clusters
# against the labels, beside a TF-IDF + k-means baseline (scikit-learn) on the same texts with
# the same k, in the same run.
#
#   RETHREAD_MODEL=/path/to/all-MiniLM-L6-v2 bash bench/discover_eval.sh
#   WORK=/some/dir SEED=1 bash bench/discover_eval.sh
#
# - complaints-data.csv: the gold label is the domain (11: apparel, software, ...); TwACS: the
#   intent tag (14, OTHER included).
# - Each set is converted to a TWCS CSV (one post per row, no replies) that rethread imports;
#   ids that appear twice keep their first row.
# - rethread runs `themes discover --all --format json` twice: with --k set to the number of
#   gold classes, and with k chosen by silhouette. The baseline runs at both k.
# - "The same texts": the model reads a post without its URLs and @mentions, so the baseline
#   gets the texts without them too (an @handle names the company, which would hand TF-IDF the
#   complaints' domain for free).
#
# Needs a sentence model (--model is passed from RETHREAD_MODEL); builds a venv with
# scikit-learn in $WORK/venv. Nothing is written into the repository or into shared/.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SHARED_DATA:-$here/../shared/data}"
work="${WORK:-${TMPDIR:-/tmp}/rethread-discover-eval}"
seed="${SEED:-1}"
labeled="$shared/labeled"
[ -d "$labeled" ] || { echo "no $labeled: nothing to evaluate" >&2; exit 1; }
[ -n "${RETHREAD_MODEL:-}" ] || { echo "set RETHREAD_MODEL to a sentence-transformers model folder" >&2; exit 1; }
case "$(realpath -m "$work")/" in
  "$(realpath "$here")/"*|"$(realpath -m "$shared/..")/"*) echo "WORK must lie outside the repository and shared/" >&2; exit 1 ;;
esac
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$here/target}/release/rethread"

if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet scikit-learn
fi
py="$work/venv/bin/python"

# Convert: TWCS CSV for rethread, and id,label gold files.
"$py" - "$labeled" "$work" <<'PY'
import csv, sys
labeled, work = sys.argv[1], sys.argv[2]
def write(name, rows):
    seen = set()
    with open(f"{work}/{name}.csv", "w", newline="", encoding="utf-8") as posts, \
         open(f"{work}/{name}-gold.csv", "w", newline="", encoding="utf-8") as gold:
        p, g = csv.writer(posts), csv.writer(gold)
        p.writerow(["tweet_id", "author_id", "inbound", "created_at", "text",
                    "response_tweet_id", "in_response_to_tweet_id"])
        g.writerow(["id", "label"])
        for n, (tid, text, label) in enumerate(rows):
            if tid in seen:
                continue
            seen.add(tid)
            p.writerow([tid, f"author{n}", "True", "Tue Oct 31 22:10:47 +0000 2017", text, "", ""])
            g.writerow([tid, label])
with open(f"{labeled}/complaints-data.csv", newline="", encoding="utf-8") as f:
    write("complaints", [(r[0], r[1], r[3]) for r in csv.reader(f)])
with open(f"{labeled}/twacs_airlines_500onlyb.csv", newline="", encoding="utf-8") as f:
    write("twacs", [(r["first_tweet_id"], r["first_utterance"], r["tag"].strip())
                    for r in csv.DictReader(f)])
PY

for set in complaints twacs; do
  k=$(tail -n +2 "$work/$set-gold.csv" | cut -d, -f2- | sort -u | wc -l)
  for mode in gold silhouette; do
    kflag=()
    [ "$mode" = gold ] && kflag=(--k "$k")
    start=$(date +%s.%N)
    "$bin" themes discover --input "$work/$set.csv" --input-format twcs --all \
        --model "$RETHREAD_MODEL" --seed "$seed" --format json "${kflag[@]}" \
        > "$work/$set-$mode.json"
    echo "$start $(date +%s.%N)" | awk '{printf "%.1f\n", $2 - $1}' > "$work/$set-$mode.time"
  done
done

"$py" - "$work" "$seed" <<'PY'
import csv, json, re, sys
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
work, seed = sys.argv[1], int(sys.argv[2])
# What the model reads: no URLs, no @mentions.
strip = re.compile(r"(https?://\S+|www\.\S+|(?<!\w)@[\w@.\-]+)", re.I)
names = {"complaints": "complaints-data.csv (gold: domain)", "twacs": "TwACS airlines (gold: intent)"}
print(f"seed {seed}; NMI / ARI against the gold labels; TF-IDF baseline = scikit-learn "
      "TfidfVectorizer(stop_words='english', min_df=2, ngram_range=(1,2)) + KMeans(n_init=10)")
print(f"{'set':<36} {'method':<28} {'k':>3} {'NMI':>6} {'ARI':>6} {'posts':>6} {'secs':>6}")
for name in ("complaints", "twacs"):
    with open(f"{work}/{name}-gold.csv", newline="", encoding="utf-8") as f:
        gold = {r["id"]: r["label"] for r in csv.DictReader(f)}
    with open(f"{work}/{name}.csv", newline="", encoding="utf-8") as f:
        texts = {r["tweet_id"]: " ".join(strip.sub(" ", r["text"]).split())
                 for r in csv.DictReader(f)}
    k_gold = len(set(gold.values()))
    for mode in ("gold", "silhouette"):
        doc = json.load(open(f"{work}/{name}-{mode}.json"))
        assert doc.get("method") == "clusters", "rethread ran without a model"
        cluster = {}
        for c in doc["clusters"]:
            for pid in c["posts"]:
                assert pid not in cluster, f"{pid} in two clusters"
                cluster[pid] = c["id"]
        ids = [i for i in gold if i in cluster]
        y = [gold[i] for i in ids]
        pred = [cluster[i] for i in ids]
        secs = open(f"{work}/{name}-{mode}.time").read().strip().splitlines()[-1]
        label = f"rethread embeddings, k {'= gold' if mode == 'gold' else 'by silhouette'}"
        print(f"{names[name]:<36} {label:<28} {doc['k']:>3} "
              f"{normalized_mutual_info_score(y, pred):>6.3f} {adjusted_rand_score(y, pred):>6.3f} "
              f"{len(ids):>6} {secs:>6}")
        # The baseline on the same posts, with the same k.
        x = TfidfVectorizer(stop_words="english", min_df=2, ngram_range=(1, 2)).fit_transform(
            [texts[i] for i in ids])
        base = KMeans(n_clusters=doc["k"], n_init=10, random_state=seed).fit_predict(x)
        print(f"{names[name]:<36} {'TF-IDF + k-means, same k':<28} {doc['k']:>3} "
              f"{normalized_mutual_info_score(y, base):>6.3f} {adjusted_rand_score(y, base):>6.3f} "
              f"{len(ids):>6} {'':>6}")
    print(f"{'':<36} (gold classes: {k_gold}; silhouette by k: "
          + ", ".join(f"{t['k']}:{t['silhouette']:.3f}" for t in
                      json.load(open(f"{work}/{name}-silhouette.json"))["silhouette_by_k"]) + ")")
PY
