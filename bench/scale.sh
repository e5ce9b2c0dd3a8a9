#!/bin/bash
# Peak memory and wall time of the commands that read a corpus a batch at a time, at two sizes.
#
#   bash bench/scale.sh DB_SMALL DB_LARGE [WHAT...]     WHAT: threads markdown (default both),
#                                                       themes parquet gexf qdpx convokit jsonl
#
# Make the databases with bench/gen_db.sh (e.g. 1M and 10M posts). Each command runs under
# /usr/bin/time -v, the small corpus then the large one, in one run (the machine is shared and
# noisy: only figures from the same run are compared). Targets (issue 15): at 10M posts
# `threads --db` peak RSS <= 1.5 GB and wall <= 11x the 1M figure; `export markdown --db`
# peak RSS <= 2 GB. Rows go to $WORK/results/scale.tsv; a table is printed at the end.
# WHOLE=1 runs every command with RETHREAD_WHOLE_CORPUS=1 (the whole corpus in memory: the
# reference the batched path is compared with; rows are then named e.g. `parquet-whole`).
#
# Environment: WORK (default /tmp/perf), RETHREAD (default: the release build), MD_ROOT
# (where transcripts go; default $WORK/out/scale-md; deleted after the last run).
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,4p "$0" >&2; exit 2; }
SMALL=$1 LARGE=$2; shift 2
WHAT=("$@"); [ ${#WHAT[@]} -gt 0 ] || WHAT=(threads markdown)
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/perf}
MD=${MD_ROOT:-$WORK/out/scale-md}
X=$WORK/out/scale-export          # the other exports' output (a file or a few)
NAME_SUFFIX=""
if [ "${WHOLE:-0}" = 1 ]; then export RETHREAD_WHOLE_CORPUS=1; NAME_SUFFIX=-whole; fi
RETHREAD=${RETHREAD:-$(cd "$HERE/.." && realpath -m "${CARGO_TARGET_DIR:-target}")/release/rethread}
[ -x "$RETHREAD" ] || { echo "no binary at $RETHREAD (cargo build --release)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time at /usr/bin/time (Debian package time)" >&2; exit 1; }
mkdir -p "$WORK/results" "$WORK/out"
TSV=$WORK/results/scale.tsv
[ -f "$TSV" ] || printf 'what\tposts\twall_s\tmax_rss_mb\texit\tdate\n' > "$TSV"
RUN=$WORK/results/scale_$(date -u +%Y%m%dT%H%M%SZ); mkdir -p "$RUN"
FAILED=0
posts_of() { sqlite3 "$1" 'SELECT count(*) FROM posts'; }
command -v sqlite3 > /dev/null || { echo "needs sqlite3 (Debian package sqlite3)" >&2; exit 1; }

for what in "${WHAT[@]}"; do
  for db in "$SMALL" "$LARGE"; do
    n=$(posts_of "$db")
    log=$RUN/${what}_$n.log
    case $what in
      threads)  cmd=("$RETHREAD" threads --db "$db" --format csv) ;;
      markdown) rm -rf "$MD"; cmd=("$RETHREAD" export markdown --db "$db" --out "$MD" --no-themes) ;;
      themes)   cmd=("$RETHREAD" themes --db "$db" --format json) ;;
      parquet|convokit) rm -rf "$X"; cmd=("$RETHREAD" export "$what" --db "$db" --out "$X") ;;
      gexf|jsonl) cmd=("$RETHREAD" export "$what" --db "$db" --out "$X.$what") ;;
      qdpx)     cmd=("$RETHREAD" export qdpx --db "$db" --out "$X.qdpx") ;;
      *) echo "unknown: $what" >&2; exit 2 ;;
    esac
    cat "$db" > /dev/null   # the page cache warm, as for every tool compared
    sync
    rc=0
    /usr/bin/time -v "${cmd[@]}" > "$RUN/${what}_$n.out" 2> "$log" || rc=$?
    wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}' |
           awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(grep "Maximum resident set size" "$log" | awk '{printf "%.0f", $NF/1024}')
    [ "$rc" = 0 ] || FAILED=1
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$what$NAME_SUFFIX" "$n" "$wall" "$rss" "$rc" "$(date -u +%FT%TZ)" |
      tee -a "$TSV" >> "$RUN/rows.tsv"
    # Moved aside, deleted at the end: creating files right after deleting many is several
    # times slower on ext4 without a journal (see pipeline.sh's header).
    [ "$what" != markdown ] || mv "$MD" "$MD.used.$n"
  done
done
rm -rf "$MD".used.* "$X" "$X".*
echo
printf 'what\tposts\twall_s\tmax_rss_mb\texit\tdate\n'
cat "$RUN/rows.tsv"
# Ratios large/small, per command.
awk -F'\t' '{ if (!($1 in first)) { first[$1]=$3; fp[$1]=$2 } else { printf "%s: wall %.2fx for %.1fx the posts\n", $1, $3/first[$1], $2/fp[$1] } }' "$RUN/rows.tsv"
exit $FAILED
