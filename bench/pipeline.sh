#!/bin/bash
# End-to-end benchmark of rethread against the hand-written Python baseline.
#
#   bash bench/pipeline.sh [SIZES...]          default sizes: 100000 1000000
#
# Environment:
#   WORK=/tmp/perf          corpora, venv, scratch output and results (never the repo)
#   SHARED_BENCH=DIR        the shared bench folder (gen_corpus.py, baseline_threads.py);
#                           default: $(dirname "$0")/../../shared/bench
#   CARGO_TARGET_DIR=DIR    honoured by the release build; the binary is taken from there
#   LIMIT=3000              seconds per timed command before `timeout` kills it
#   COMPARE=1               also `diff -rq` the --input and --db transcript directories
#   MD_ROOT=DIR             where the transcript directories go (default $WORK/out/pipeline-md);
#                           e.g. a tmpfs mount, to take the file system out of the numbers
#   FORMATS="twarc2 mastodon"  the corpora to run (the baseline and the write floor: twarc2 only)
#   DEFER_RM=1              move used transcript dirs to MD_ROOT/.trash and delete them only at
#                           the end (see "file system" below); 0 deletes them between runs
#
# Needs: cargo, python3 (3.11 was used for the corpora; the generator is stdlib only),
# GNU time at /usr/bin/time. If it is missing, the script installs it with
# `apt-get update && apt-get install -y time` (Debian package "time"; needs root).
# Disk: ~8 GB of corpora at 1M posts (twarc2 1.7 GB + mastodon 2.0 GB, plus 100k), a
# corpus database of a few GB and ~300k transcript files at a time under $WORK/out.
#
# File system: on the reference VM (ext4 without a journal, kernel 6.18), creating files right
# after deleting many files costs up to ~25x more kernel time for up to ~5 minutes (perf: ext4
# find_inode_bit -> recently_deleted -> find_get_block_common: ext4 without a journal skips
# inodes freed in the last 5 s, or 300 s while their inode-table block is dirty). Deleting a 1M
# output dir just before the next timed run made that run 2-3x slower. So used dirs are moved
# aside and deleted after the last timed run, each run starts after `sync`, and the script waits
# until 310 s have passed since its last bulk delete ($WORK/out/.bulk_rm) before timing anything.
#
# Write floor: for twarc2, examples/write_floor.rs writes rethread's own transcript files again
# (same names, same bytes, one thread per core) and the report prints how long that alone took.
# On the reference VM it is ~19 us per file (about 10 s of kernel CPU for 273,522 files), i.e.
# about as long as a tenth of the baseline: the report says what speed-up that leaves possible.
# It writes the files of `export markdown --no-themes` (what the baseline writes: no themes),
# twice: plainly (open, write, close), and `--safe`, as every rethread export must write a file
# (an unnamed file named once complete, never through an existing path or a link); the issue's
# target (markdown --input within 1.15x of threads --input + the floor) is printed against both.
# Do not `rm -rf` big directories on this disk yourself in the 5 minutes before a run.
#
# Results: rows appended to $WORK/results/pipeline.tsv
#   (tool, format, posts, wall_s, max_rss_mb, exit, date); time -v logs, stdout captures and
#   per-run tables in $WORK/results/pipeline_<stamp>/. A table is printed at the end.
# Exit status: non-zero if any rethread command failed (the table is still printed).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED_BENCH=$(cd "${SHARED_BENCH:-$HERE/../../shared/bench}" && pwd)
WORK=${WORK:-/tmp/perf}
LIMIT=${LIMIT:-3000}
COMPARE=${COMPARE:-1}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100000 1000000)
FORMATS=(${FORMATS:-twarc2 mastodon})
OUT=$WORK/out/pipeline                  # database and CSV scratch
MD=${MD_ROOT:-$WORK/out/pipeline-md}    # transcript directories
DEFER_RM=${DEFER_RM:-1}
for dir in "$WORK" "$MD"; do
  case "$(realpath -m "$dir")/" in
    "$REPO"/*|"$SHARED_BENCH"/*)
      echo "$dir lies inside the repo or shared/; choose another WORK / MD_ROOT" >&2; exit 2 ;;
  esac
done

mkdir -p "$WORK/corpus" "$WORK/results" "$WORK/out"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN=$WORK/results/pipeline_$STAMP      # logs of this run
mkdir -p "$RUN"
TSV=$WORK/results/pipeline.tsv
HEADER=$'tool\tformat\tposts\twall_s\tmax_rss_mb\texit\tdate'
[ -f "$TSV" ] || echo "$HEADER" > "$TSV"
echo "$HEADER" > "$RUN/rows.tsv"                       # this run's rows, for the report
printf 'format\tposts\twhat\tvalue\n' > "$RUN/counts.tsv"  # output checks
FAILED=0

# ---- tools ------------------------------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
  echo "GNU time is missing: installing the Debian package 'time'" >&2
  apt-get update && apt-get install -y time
fi

echo "== building rethread (release) and the write-floor probe"
(cd "$REPO" && cargo build --release && cargo build --release --example write_floor)
TARGET_DIR=$(cd "$REPO" && realpath -m "${CARGO_TARGET_DIR:-target}")
RETHREAD=$TARGET_DIR/release/rethread
[ -x "$RETHREAD" ] || { echo "no binary at $RETHREAD" >&2; exit 1; }
WRITE_FLOOR=$TARGET_DIR/release/examples/write_floor
"$RETHREAD" --version
sha256sum "$RETHREAD" > "$RUN/binary.sha256"   # the source may change between runs

PY=$WORK/venv/bin/python
if ! { [ -x "$PY" ] && "$PY" -c 'import networkx' 2>/dev/null; }; then
  echo "== setting up $WORK/venv with networkx (for the baseline)"
  [ -x "$PY" ] || python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet networkx
fi

# ---- corpora ----------------------------------------------------------------------------
for n in "${SIZES[@]}"; do
  for f in "${FORMATS[@]}"; do
    file=$WORK/corpus/${f}_$n.jsonl
    [ -f "$file" ] && continue
    echo "== generating $file"
    # Write to .tmp and rename, so an interrupted run never leaves a partial corpus behind.
    python3 "$SHARED_BENCH/gen_corpus.py" --format "$f" --posts "$n" --seed 1 --out "$file.tmp" \
      2> "$RUN/gen_${f}_$n.log"
    mv "$file.tmp" "$file"
  done
done

# ---- timing ---
BULK_RM=$WORK/out/.bulk_rm
if [ -e "$MD" ]; then
  echo "== removing leftovers in $MD" >&2
  rm -rf "$MD"; touch "$BULK_RM"
fi
mkdir -p "$MD"
if [ "$(stat -f -c %T "$MD")" != tmpfs ] && [ -e "$BULK_RM" ]; then
  age=$(( $(date +%s) - $(stat -c %Y "$BULK_RM") ))
  if [ "$age" -ge 0 ] && [ "$age" -lt 310 ]; then
    echo "== waiting $(( 310 - age )) s: files were bulk-deleted ${age} s ago (see the header)"
    sleep $(( 310 - age ))
  fi
fi
# discard DIR: get rid of a used output directory without deleting it now (see the header).
discard() {
  [ -e "$1" ] || return 0
  if [ "$DEFER_RM" = 1 ]; then
    mkdir -p "$MD/.trash"; mv "$1" "$MD/.trash/$(basename "$1").$RANDOM$RANDOM"
  else
    rm -rf "$1"
  fi
}

# timed TOOL FORMAT POSTS STDOUT WARM -- CMD...
# Runs CMD under /usr/bin/time -v (stdout to STDOUT, stderr + time's report to a log),
# after reading WARM once (warm page cache, as run_baselines.sh does), and appends a row.
# Sets WALL, RSS and RC.
timed() {
  local tool=$1 fmt=$2 posts=$3 stdout=$4 warm=$5; shift 6
  local log=$RUN/${tool}_${fmt}_${posts}.log
  if [ -n "$warm" ]; then cat "$warm" > /dev/null; fi
  # Write dirty inode-table blocks back first (see "File system" in the header): a clean
  # block shortens ext4's "recently deleted" window from 300 s to 5 s.
  sync
  RC=0
  /usr/bin/time -v timeout "$LIMIT" "$@" > "$stdout" 2> "$log" || RC=$?
  WALL=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}' |
         awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  RSS=$(grep "Maximum resident set size" "$log" | awk '{printf "%.0f", $NF/1024}')
  WALL=${WALL:-NA} RSS=${RSS:-NA}
  row "$tool" "$fmt" "$posts" "$WALL" "$RSS" "$RC"
  printf '  %-22s %-8s %8s  wall %7s s  rss %6s MB  exit %s\n' "$tool" "$fmt" "$posts" "$WALL" "$RSS" "$RC"
  if [ "$RC" -ne 0 ]; then
    echo "  FAILED (exit $RC): $*  -- see $log" >&2
    tail -n 30 "$log" | sed 's/^/    /' >&2
  fi
}
row() {
  local line
  line=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$@" "$(date -u +%FT%TZ)")
  echo "$line" >> "$TSV"
  echo "$line" >> "$RUN/rows.tsv"
}
count() { printf '%s\t%s\t%s\t%s\n' "$@" >> "$RUN/counts.tsv"; echo "  $3: $4"; }
rethread_failed() { [ "$RC" -eq 0 ] || FAILED=1; }
# Files named *.md below DIR, without index.md (rethread writes one index per export).
transcripts() { if [ -d "$1" ]; then find "$1" -name '*.md' ! -name index.md | wc -l; else echo 0; fi; }
mdfiles() { if [ -d "$1" ]; then find "$1" -name '*.md' | wc -l; else echo 0; fi; }
max() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "NA" || b == "NA") print "NA"; else print (a > b ? a : b) }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "NA" || b == "NA") print "NA"; else print a + b }'; }

for n in "${SIZES[@]}"; do
  for f in "${FORMATS[@]}"; do
    file=$WORK/corpus/${f}_$n.jsonl
    echo "== $f $n posts ($(stat -c %s "$file") bytes)"
    rm -rf "$OUT"; mkdir -p "$OUT"
    db=$OUT/rethread.db
    d=$MD/${f}_$n
    discard "$d"; mkdir -p "$d"

    # 1. The export without themes: what the baseline, `threads --input` and the write floor do
    # (no coding), so this is the row the like-for-like target is about. Run first, on a disk
    # with no transcripts of this run on it yet, as the headline was before themes were on by
    # default. The row after it is the command as a researcher runs it (with themes).
    discard "$d/md_no_themes"
    timed export_md_input_no_themes "$f" "$n" /dev/null "$file" -- \
      "$RETHREAD" export markdown --input "$file" --no-themes --out "$d/md_no_themes"
    rethread_failed
    count "$f" "$n" transcripts_input_no_themes "$(transcripts "$d/md_no_themes")"

    # 1b. Headline: the whole offline pipeline from files, no database, themes on (the default).
    timed export_md_input "$f" "$n" /dev/null "$file" -- \
      "$RETHREAD" export markdown --input "$file" --out "$d/md_input"
    rethread_failed
    grep -h '^wrote ' "$RUN/export_md_input_${f}_$n.log" | sed 's/^/  /' || true
    count "$f" "$n" md_files_input "$(mdfiles "$d/md_input")"
    count "$f" "$n" transcripts_input "$(transcripts "$d/md_input")"

    # The write floor: the same files with the same bytes, written again by a program that does
    # nothing else (examples/write_floor.rs; reading them in is not timed). No transcript
    # writer can beat it on this machine. Run on twarc2, the format the baseline reads.
    # The files it writes are those of the export without themes (the like-for-like row).
    if [ "$f" = twarc2 ] && [ -d "$d/md_no_themes" ]; then
      sync
      if "$WRITE_FLOOR" "$d/md_no_themes" "$d/floor" > "$RUN/write_floor_${f}_$n.txt" 2>&1; then
        cat "$RUN/write_floor_${f}_$n.txt" | sed 's/^/  /'
        fw=$(awk '{for (i = 1; i < NF; i++) if ($i == "wall_s") print $(i + 1)}' "$RUN/write_floor_${f}_$n.txt")
        row write_floor "$f" "$n" "${fw:-NA}" NA 0
      else
        echo "  write_floor failed: see $RUN/write_floor_${f}_$n.txt" >&2
      fi
      discard "$d/floor"
      # The same files written as every export must write them (beside the target, named once
      # complete: `write_floor --safe`, rethread's own atomic::write_bytes).
      sync
      if "$WRITE_FLOOR" --safe "$d/md_no_themes" "$d/floor" > "$RUN/write_floor_safe_${f}_$n.txt" 2>&1; then
        cat "$RUN/write_floor_safe_${f}_$n.txt" | sed 's/^/  /'
        fw=$(awk '{for (i = 1; i < NF; i++) if ($i == "wall_s") print $(i + 1)}' "$RUN/write_floor_safe_${f}_$n.txt")
        row write_floor_safe "$f" "$n" "${fw:-NA}" NA 0
      else
        echo "  write_floor --safe failed: see $RUN/write_floor_safe_${f}_$n.txt" >&2
      fi
      discard "$d/floor"
    fi
    discard "$d/md_no_themes"

    # Phase split: reading + threading + CSV, without markdown. export - threads ~ writing.
    timed threads_input "$f" "$n" "$OUT/threads_input.csv" "$file" -- \
      "$RETHREAD" threads --input "$file" --format csv
    rethread_failed
    count "$f" "$n" threads_csv_lines_input "$(wc -l < "$OUT/threads_input.csv")"

    # 2. Through the database: import (fresh DB), list threads, export.
    rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
    timed import "$f" "$n" /dev/null "$file" -- "$RETHREAD" import "$file" --db "$db"
    rethread_failed; rc_import=$RC; wall_sum=$WALL; rss_max=$RSS
    count "$f" "$n" db_bytes "$(du -cb "$db"* 2>/dev/null | tail -n1 | cut -f1)"
    timed threads_db "$f" "$n" "$OUT/threads_db.csv" "" -- \
      "$RETHREAD" threads --db "$db" --format csv
    rethread_failed; rc_threads=$RC
    wall_sum=$(add "$wall_sum" "$WALL"); rss_max=$(max "$rss_max" "$RSS")
    count "$f" "$n" threads_csv_lines_db "$(wc -l < "$OUT/threads_db.csv")"
    if cmp -s "$OUT/threads_input.csv" "$OUT/threads_db.csv"; then same=yes; else same=NO; fi
    count "$f" "$n" threads_csv_db_equals_input "$same"
    rm -f "$OUT/threads_input.csv" "$OUT/threads_db.csv"
    timed export_md_db "$f" "$n" /dev/null "" -- \
      "$RETHREAD" export markdown --db "$db" --out "$d/md_db"
    rethread_failed; rc_export=$RC
    wall_sum=$(add "$wall_sum" "$WALL"); rss_max=$(max "$rss_max" "$RSS")
    sum_rc=$(( rc_import != 0 ? rc_import : rc_threads != 0 ? rc_threads : rc_export ))
    row db_sum "$f" "$n" "$wall_sum" "$rss_max" "$sum_rc"
    printf '  %-22s %-8s %8s  wall %7s s  rss %6s MB  exit %s  (import+threads+export; rss = max)\n' \
      db_sum "$f" "$n" "$wall_sum" "$rss_max" "$sum_rc"
    count "$f" "$n" transcripts_db "$(transcripts "$d/md_db")"
    if [ "$COMPARE" = 1 ] && [ -d "$d/md_input" ] && [ -d "$d/md_db" ]; then
      if diff -rq "$d/md_input" "$d/md_db" > "$RUN/diff_${f}_$n.txt" 2>&1; then same=yes
      else same="NO ($(wc -l < "$RUN/diff_${f}_$n.txt") differences, see $RUN/diff_${f}_$n.txt)"; fi
      count "$f" "$n" md_db_equals_input "$same"
    fi
    discard "$d/md_input"; discard "$d/md_db"; rm -rf "$OUT"; mkdir -p "$OUT"

    # 3. The hand-written Python baseline, same machine, same run (twarc2 only).
    if [ "$f" = twarc2 ]; then
      timed baseline_threads "$f" "$n" /dev/null "$file" -- \
        "$PY" "$SHARED_BENCH/baseline_threads.py" "$file" "$d/baseline"
      grep -h '^tweets read' "$RUN/baseline_threads_${f}_$n.log" | sed 's/^/  /' || true
      count "$f" "$n" transcripts_baseline "$(mdfiles "$d/baseline")"
      discard "$d/baseline"
    fi
    discard "$d"
  done
done
rm -rf "$OUT"
echo "== deleting the used transcript directories"
rm -rf "$MD"; touch "$BULK_RM"

# ---- report -----------------------------------------------------------------------------
python3 - "$RUN/rows.tsv" "$RUN/counts.tsv" <<'EOF' | tee "$RUN/report.txt"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
counts = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
def num(x):
    try: return float(x)
    except ValueError: return None
W = {(r["tool"], r["format"], int(r["posts"])): r for r in rows}
# The formats this run measured, in the usual order (FORMATS= may leave one out).
FORMATS = [f for f in ("twarc2", "mastodon") if any(r["format"] == f for r in rows)]
sizes = sorted({int(r["posts"]) for r in rows})
names = [
    ("export_md_input",  "1. export markdown --input (headline)"),
    ("export_md_input_no_themes", "   export markdown --input --no-themes"),
    ("threads_input",    "   threads --input (read+thread, no md)"),
    ("import",           "2a. import (fresh db)"),
    ("threads_db",       "2b. threads --db --format csv"),
    ("export_md_db",     "2c. export markdown --db"),
    ("db_sum",           "2. sum 2a+2b+2c (rss = max)"),
    ("baseline_threads", "3. baseline_threads.py (python)"),
    ("write_floor",      "   write floor: the same .md files only"),
    ("write_floor_safe", "   write floor, written safely (--safe)"),
]
def k(n): return f"{n//1000000}M" if n % 1000000 == 0 else f"{n//1000}k" if n % 1000 == 0 else str(n)
print()
print("## pipeline.sh results (wall s / peak RSS MB; exit != 0 marked)")
head = f"| {'row':42} | {'format':8} |" + "".join(f" {k(n)+' wall s':>11} | {k(n)+' RSS MB':>11} |" for n in sizes)
print(head); print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
for fmt in ("twarc2", "mastodon"):
    for tool, label in names:
        cells = []
        if not any((tool, fmt, n) in W for n in sizes): continue
        for n in sizes:
            r = W.get((tool, fmt, n))
            if r is None: cells += ["-", "-"]; continue
            bad = "" if r["exit"] == "0" else f" (exit {r['exit']})"
            cells += [r["wall_s"] + bad, r["max_rss_mb"]]
        print(f"| {label:42} | {fmt:8} |" + "".join(f" {c:>11} |" for c in cells))
print()
def wall(t, f, n):
    r = W.get((t, f, n)); return num(r["wall_s"]) if r else None
print("## speed-up over the baseline (twarc2, baseline wall / rethread wall, same run)")
for n in sizes:
    b = wall("baseline_threads", "twarc2", n)
    for t, label in (("export_md_input", "export --input"), ("export_md_input_no_themes", "export --input --no-themes"),
                     ("threads_input", "threads --input"), ("db_sum", "import+threads+export via db")):
        x = wall(t, "twarc2", n)
        if b and x: print(f"  {k(n):>5}  {label:30} {b/x:6.1f}x  ({b:.2f} s / {x:.2f} s)")
print()
if len(sizes) > 1:
    lo, hi = sizes[0], sizes[-1]
    print(f"## linearity: wall({k(hi)}) / wall({k(lo)})  (linear = {hi/lo:g})")
    for fmt in ("twarc2", "mastodon"):
        for tool, label in names:
            a, b = wall(tool, fmt, lo), wall(tool, fmt, hi)
            if a and b: print(f"  {fmt:8} {label:42} {b/a:6.1f}")
    print()
print("## markdown writing ~ export_md_input - threads_input (s)")
for fmt in ("twarc2", "mastodon"):
    for n in sizes:
        a, b = wall("export_md_input", fmt, n), wall("threads_input", fmt, n)
        if a is not None and b is not None: print(f"  {fmt:8} {k(n):>5} {a-b:7.2f}")
print()
print("## output checks")
C = {(c["format"], int(c["posts"]), c["what"]): c["value"] for c in counts}
for fmt in FORMATS:
    for n in sizes:
        g = lambda w: C.get((fmt, n, w), "-")
        lines = g("threads_csv_lines_input")
        threads = str(int(lines) - 1) if lines.isdigit() else "-"
        s = (f"  {fmt:8} {k(n):>5}: *.md files {g('md_files_input')} (transcripts {g('transcripts_input')} + index.md); "
             f"threads csv {lines} lines = {threads} threads; via db: transcripts {g('transcripts_db')}, "
             f"csv same as --input: {g('threads_csv_db_equals_input')}, md same: {g('md_db_equals_input')}")
        if fmt == "twarc2":
            s += f"; baseline files {g('transcripts_baseline')}"
        print(s)
print()
print("## targets at the largest size (from the issues)")
n = sizes[-1]
x, b = wall("export_md_input", "twarc2", n), wall("baseline_threads", "twarc2", n)
fl = wall("write_floor", "twarc2", n)
ti = wall("threads_input", "twarc2", n)
# Issue 15: threads --input >= 15x the baseline; export markdown --input within 1.15x of
# (threads --input + the write floor), all measured in this run.
if ti and b: print(f"  threads --input >= 15x the baseline: {b/ti:.1f}x ({b:.2f} s / {ti:.2f} s)  {'PASS' if b/ti >= 15 else 'FAIL'}")
fs = wall("write_floor_safe", "twarc2", n)
for floor, fname in ((fl, "write floor"), (fs, "safe write floor")):
    if not (ti and floor): continue
    limit = 1.15 * (ti + floor)
    for t, label in (("export_md_input_no_themes", "export markdown --input --no-themes"),
                     ("export_md_input", "export markdown --input (with themes)")):
        y = wall(t, "twarc2", n)
        if y: print(f"  {label} <= 1.15 x (threads --input + {fname}) = 1.15 x ({ti:.2f} + {floor:.2f}) = {limit:.2f} s: "
                    f"{y:.2f} s ({y/(ti+floor):.2f}x)  {'PASS' if y <= limit else 'FAIL'}")
if x and b: print(f"  export markdown --input vs the baseline: {b/x:.1f}x faster")
if fl and b:
    print(f"  write floor: writing the same {k(n)} transcript files alone takes {fl:.2f} s here; "
          f"baseline / 10 = {b/10:.2f} s, so the best speed-up any writer of these files can reach "
          f"on this machine is {b/fl:.1f}x")
for fmt in FORMATS:
    worst = max((num(W[(t, fmt, n)]["max_rss_mb"]) or 0, t) for t, _ in names
                if (t, fmt, n) in W and t not in ("baseline_threads", "write_floor", "write_floor_safe"))
    print(f"  peak RSS < 1024 MB ({fmt}): max {worst[0]:.0f} MB ({worst[1]})  {'PASS' if worst[0] < 1024 else 'FAIL'}")
if len(sizes) > 1:
    lo = sizes[0]
    for fmt in ("twarc2", "mastodon"):
        a, c = wall("export_md_input", fmt, lo), wall("export_md_input", fmt, n)
        if a and c:
            r = c / a
            print(f"  linear growth ({fmt}, export --input): {r:.1f} for {n/lo:g}x posts  "
                  f"{'PASS' if r <= 1.25 * n / lo else 'FAIL'} (tolerance: <= 1.25 x linear)")
EOF
echo "rows appended to $TSV; logs in $RUN"
if [ "$FAILED" -ne 0 ]; then echo "some rethread command failed" >&2; exit 1; fi
