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
