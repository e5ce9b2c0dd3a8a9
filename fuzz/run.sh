#!/usr/bin/env bash
# Run every fuzz target (or the ones named) for SECONDS each and say, per target, how many inputs
# it ran and whether it found anything.
#
#   bash fuzz/run.sh SECONDS [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Targets are
# built once, with AddressSanitizer and debug assertions (so integer overflow panics), into
# fuzz/target, or $CARGO_TARGET_DIR when set.
#
# Findings: a panic, abort or memory error (crash-*), a run over 10 s (timeout-*) or over 2 GiB
# (oom-*). Each is left in fuzz/artifacts/TARGET/ and makes this script exit non-zero; replay
# one with `cargo +nightly fuzz run -a TARGET fuzz/artifacts/TARGET/crash-...`. A timeout or
# out-of-memory stops libFuzzer, so the target is started again (with the corpus it has grown)
# until its SECONDS are used up: one slow input does not hide crashes behind it. Inputs slower
# than 2 s are kept as slow-unit-* and listed, but do not fail the run (the machine may be busy).
# An `Err` from an importer is not a finding: refusing hostile input is what it should do.
#
# Corpora: fuzz/seeds/TARGET (committed, made from fixtures/ by make_seeds.py) and
# fuzz/corpus/TARGET (not committed), where libFuzzer keeps the inputs it finds interesting
# and to which this script copies small samples of ../shared/data (beside the checkout, or
# $RETHREAD_SHARED_DATA) when it is there: real files may be read, not committed.
# Logs: fuzz/logs/TARGET.log.
#
# Environment: FUZZ_JOBS (default 1) targets run side by side; FUZZ_QUIET=1 prints only the
# summary lines (what .ci/run uses).
set -uo pipefail

usage() { echo "usage: bash fuzz/run.sh SECONDS [TARGET...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
secs=$1
shift
[[ $secs =~ ^[1-9][0-9]*$ ]] || usage

fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
cd "$root"
jobs=${FUZZ_JOBS:-1}
quiet=${FUZZ_QUIET:-0}
say() { [ "$quiet" = 1 ] || echo "$@"; }

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "error: fuzzing needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "error: fuzzing needs cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
  exit 2
fi

all=(import_mastodon import_twarc2 import_twarc1 import_tweets_js import_twcs import_convokit import_bluesky html_text qdc_codebook)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "error: unknown target $t (known: ${all[*]})" >&2; exit 2; }
done

# libFuzzer's options, the same for every target. -max_len: 1 MiB is larger than any real
# record of these formats bar a full twarc2 page (a few MiB), and larger inputs only slow the
# search. -timeout/-rss_limit_mb make a slow or greedy input a finding; -report_slow_units
# keeps inputs over 2 s for a look. -detect_leaks=0: LeakSanitizer reports the thread-local
# bookkeeping (std's channel context, glibc's __cxa_thread_atexit list) of the threads the JSON
# Lines reader starts for each file, within seconds, for every JSONL target; safe Rust leaks only
# on purpose, and memory that grows without bound still ends a run as out-of-memory.
opts=(-max_total_time="$secs" -max_len=1048576 -rss_limit_mb=2048 -timeout=10
  -report_slow_units=2 -print_final_stats=1 -detect_leaks=0)

logs=$fuzz/logs
mkdir -p "$logs"

say "building the fuzz targets (nightly, AddressSanitizer, debug assertions)"
build_start=$(date +%s)
if ! cargo +nightly fuzz build --debug-assertions >"$logs/build.log" 2>&1; then
  tail -n 30 "$logs/build.log" >&2
  echo "error: building the fuzz targets failed (log: fuzz/logs/build.log)" >&2
  exit 1
fi
echo "fuzz: targets built in $(($(date +%s) - build_start)) s"

# Small samples of the real data, mode byte first as the importer targets expect ('0' strict,
# '1' --skip-bad): whole files of a few kB, or the first lines of larger ones.
shared=${RETHREAD_SHARED_DATA:-$root/../shared/data}
sample() { # target name mode file [lines]
  local dir=$fuzz/corpus/$1 out
  out=$dir/shared-$2
  [ -f "$4" ] || return 0
  mkdir -p "$dir"
  if [ -n "${5:-}" ]; then
    { printf '%s' "$3"; head -n "$5" "$4"; } >"$out"
  else
    { printf '%s' "$3"; cat "$4"; } >"$out"
  fi
}
if [ -d "$shared" ]; then
  say "adding small samples of $shared to the working corpora"
  m=$shared/mastodon/rtoot_fixtures
  for f in "$m"/*context*.json "$m"/*get_status_default_0.json "$m"/*bookmarks*.json \
    "$shared"/mastodon/mastodonpy_cassettes/test_status_reply_with_quote__0[23]_*.json; do
    [ -f "$f" ] && sample import_mastodon "$(basename "$f")" 0 "$f"
  done
  sample import_mastodon tag-timeline.json 1 "$m"/mastodon.social__timelines_tag_ichbinhanna__get_timeline_hashtag_anonymous_0.json
  t=$shared/twitter_v2/twarc-csv_test-data
  for f in two_tweets cotweet edited quoted_edit media_tweet geo_tweets tweets_compliance; do
    sample import_twarc2 "$f.jsonl" 0 "$t/$f.jsonl"
  done
  sample import_twarc2 streaming_output_with_error.jsonl 1 "$t/streaming_output_with_error.jsonl"
  sample import_twarc2 flat-head.jsonl 1 "$t/flat.jsonl" 20
  sample import_twarc2 kfc_from.jsonl 0 "$shared/twitter_v2/academictwitteR/kfc_from.jsonl"
  b=$shared/bluesky
  for f in "$b"/threads/*.json "$b"/threads/synthetic/*.json "$b"/car/arroba_snarfed2.car \
    "$b"/car/indigo_bnewbold.robocracy.org.*.car "$b"/car/indigo_greenground.repo.car; do
    [ -f "$f" ] && sample import_bluesky "$(basename "$f")" 0 "$f"
  done
  sample import_bluesky searchPosts-filtered.json 1 "$b/search/atrrr_searchPosts_q-atrrr_tag-rstats_filtered.json"
  sample import_twcs sample-head.csv 0 "$shared/twcs/naman-tiwari_sample.csv" 40
  # The pandas re-save: index column, float ids, bare CRs inside fields.
  sample import_twcs head5k-head.csv 1 "$shared/twcs/monalisapatra26_twcs_head5k.csv" 80
  # The HTML target reads markup itself: the content of a few real statuses.
  if command -v python3 >/dev/null 2>&1; then
    mkdir -p "$fuzz/corpus/html_text"
    python3 - "$fuzz/corpus/html_text" "$m"/*context*.json "$m"/*hashtag_default_0.json <<'EOF' || true
import json, sys
out, n = sys.argv[1], 0
for path in sys.argv[2:]:
    doc = json.load(open(path, encoding="utf-8"))
    statuses = doc if isinstance(doc, list) else doc.get("ancestors", []) + doc.get("descendants", [])
    for s in statuses[:10]:
        if s.get("content"):
            open(f"{out}/shared-{n:03}.html", "w", encoding="utf-8").write(s["content"])
            n += 1
EOF
  fi
else
  say "note: $shared not found: fuzzing from the committed seeds only"
fi

# One target: run libFuzzer until SECONDS are used, starting again after a timeout or OOM.
run_target() {
  local t=$1 log=$logs/$t.log start left rc tmp dict
  local corpus=$fuzz/corpus/$t seeds=$fuzz/seeds/$t
  mkdir -p "$corpus" "$fuzz/artifacts/$t"
  : >"$log"
  start=$(date +%s)
  # The importer targets write each input to a file under TMPDIR: keep it inside fuzz/logs.
  tmp=$logs/tmp.$t
  mkdir -p "$tmp"
  # Tokens the target's parser looks for (dict/): JSON keys, CSV punctuation, Mastodon markup.
  case $t in
    import_twcs) dict=csv.dict ;;
    html_text) dict=html.dict ;;
    *) dict=json.dict ;;
  esac
  for attempt in $(seq 1 50); do
    left=$((secs - ($(date +%s) - start)))
    [ "$attempt" = 1 ] || [ "$left" -ge 5 ] || break
    [ "$left" -ge 1 ] || left=1
    opts[0]=-max_total_time=$left
    echo "=== run $attempt: ${left} s" >>"$log"
    TMPDIR=$tmp cargo +nightly fuzz run --debug-assertions "$t" "$corpus" "$seeds" -- \
      "${opts[@]}" -dict="$fuzz/dict/$dict" >>"$log" 2>&1
    rc=$?
    [ $rc -ne 0 ] || break
    # Go on only after a timeout or OOM; a crash ends the target's run.
    tail -n 200 "$log" | grep -Eq 'ERROR: libFuzzer: (timeout|out-of-memory)' || break
  done
  rm -rf "$tmp"
  echo $(($(date +%s) - start)) >"$logs/$t.secs"
}

# Start at most $jobs targets at once.
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  say "fuzzing $t for $secs s"
  run_target "$t" &
  running=$((running + 1))
done
wait

# The summary: executions (summed over restarts) and findings, from each log.
failed=0
for t in "${targets[@]}"; do
  log=$logs/$t.log
  execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
  # libFuzzer names each saved input by what it did: crash- (panic, abort, memory error),
  # leak-, timeout-, oom-, slow-unit-.
  written() { grep -Ec "Test unit written to .*/$1-" "$log"; }
  crashes=$(written crash)
  leaks=$(written leak)
  timeouts=$(written timeout)
  ooms=$(written oom)
  slow=$(written slow-unit)
  # A run that ended without libFuzzer's final line died some other way (build, setup).
  done_runs=$(grep -Ec '^Done [0-9]+ runs' "$log")
  found=()
  [ "$crashes" = 0 ] || found+=("$crashes crash(es)")
  [ "$leaks" = 0 ] || found+=("$leaks leak(s)")
  [ "$timeouts" = 0 ] || found+=("$timeouts timeout(s) over 10 s")
  [ "$ooms" = 0 ] || found+=("$ooms out-of-memory")
  if [ ${#found[@]} -eq 0 ] && [ "$done_runs" = 0 ]; then
    found+=("no result: libFuzzer did not finish (see fuzz/logs/$t.log)")
  fi
  ran=$(cat "$logs/$t.secs" 2>/dev/null || echo "?")
  note=""
  [ "$slow" = 0 ] || note=" ($slow input(s) slower than 2 s kept as slow-unit-*)"
  if [ ${#found[@]} -eq 0 ]; then
    printf 'fuzz %-17s %10s executions in %s s: nothing found%s\n' "$t" "$execs" "$ran" "$note"
  else
    failed=1
    printf 'fuzz %-17s %10s executions in %s s: FOUND %s%s; inputs in fuzz/artifacts/%s/, log fuzz/logs/%s.log\n' \
      "$t" "$execs" "$ran" "$(IFS=,; echo "${found[*]}" | sed 's/,/, /g')" "$note" "$t" "$t"
    grep -Eo 'Test unit written to [^ ]*' "$log" | grep -v slow-unit | sed 's/^/    /' | sort -u
  fi
done
exit $failed
