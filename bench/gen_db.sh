#!/bin/bash
# Write a rethread corpus database of N synthetic posts, without a JSON file on disk.
#
#   bash bench/gen_db.sh N DB [FORMAT]        FORMAT: twarc2 (default) or mastodon
#
# The posts are those of ../shared/bench/gen_corpus.py (same seed, same shapes: heavy-tailed
# thread sizes, long chains, absent parents, repeats, reposts, quotes), streamed through a pipe
# into `rethread import`, so the rows are exactly what importing the generated file would
# store (the importer is the only code that turns a record into a row). At 10M posts the
# twarc2 file would be about 17 GB; here nothing but the database is written.
#
# Environment: SHARED_BENCH (default: ../shared/bench beside the repo), RETHREAD (the binary;
# default: the release build, built if absent), SEED (default 1).
# The database is written as DB.tmp and renamed into place when the import has finished, so a
# killed run never leaves a partial corpus under the name DB.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,4p "$0" >&2; exit 2; }
N=$1 DB=$2 FORMAT=${3:-twarc2} SEED=${SEED:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED_BENCH=$(cd "${SHARED_BENCH:-$HERE/../../shared/bench}" && pwd)
RETHREAD=${RETHREAD:-}
if [ -z "$RETHREAD" ]; then
  (cd "$HERE/.." && cargo build --release --quiet)
  RETHREAD=$(cd "$HERE/.." && realpath -m "${CARGO_TARGET_DIR:-target}")/release/rethread
fi
rm -f "$DB.tmp" "$DB.tmp-wal" "$DB.tmp-shm"
# pipefail: a generator that fails makes the whole pipe fail, and the partial .tmp is left out.
python3 "$SHARED_BENCH/gen_corpus.py" --format "$FORMAT" --posts "$N" --seed "$SEED" --out - \
  2> "$DB.gen.log" |
  "$RETHREAD" import --db "$DB.tmp" --input-format "$FORMAT" /dev/stdin
mv "$DB.tmp" "$DB"
for ext in wal shm; do [ ! -e "$DB.tmp-$ext" ] || mv "$DB.tmp-$ext" "$DB-$ext"; done
echo "wrote $DB ($N $FORMAT posts generated; generator summary in $DB.gen.log)" >&2
