#!/usr/bin/env bash
# Runs one fuzz target on its corpus for a bounded time:
#   tests/fuzz/run.sh FUZZER CORPUS_DIR [libFuzzer options...]
# CI's run (ctest fuzz.<target>, scripts/test-fuzz.sh): libFuzzer first runs every input
# of the checked-in corpus (the seeds and the regression inputs of earlier findings), then
# fuzzes from them for UP_FUZZ_SECONDS (default 10). What it finds goes to a scratch
# corpus in UP_FUZZ_WORK (emptied first unless UP_FUZZ_KEEP=1), never into the source
# tree; a crash, leak, hang or broken promise fails the run and leaves its input there
# (crash-<sha1>, leak-<sha1>, ...), with the command that replays it. Long runs:
# docs/testing.md "Fuzzing".
set -euo pipefail
bin=$1
corpus=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$bin")
secs=${UP_FUZZ_SECONDS:-10}
work=${UP_FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/up_fuzz_run.XXXXXX")}
[ "${UP_FUZZ_KEEP:-0}" = 1 ] || rm -rf "$work"
mkdir -p "$work/new"
rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$work"/slow-unit-*

# The targets' input files (written for every input) go to memory when /dev/shm is there:
# the loader's fsync of its rejects file alone is most of an execution on a disk.
if [ -z "${UP_FUZZ_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  UP_FUZZ_TMPDIR=/dev/shm
fi
export TMPDIR=${UP_FUZZ_TMPDIR:-${TMPDIR:-/tmp}}

# The sanitizers as in scripts/sanitize-env.sh, but no MPI here: malloc's stacks are
# unwound the fast way (ten times the executions) unless the target has suppressions of
# its own, which need whole stacks through libraries without frame pointers.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
if [ -f "$here/$name.lsan.supp" ]; then
  export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0
  export LSAN_OPTIONS=suppressions=$here/$name.lsan.supp:print_suppressions=0
else
  export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
  export LSAN_OPTIONS=print_suppressions=0
fi
[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] && export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
# Words of the input formats, for libFuzzer to splice in (libFuzzer's -dict format).
case $name in
fuzz_fields | fuzz_csv | fuzz_load) dict=(-dict="$here/uptime.dict") ;;
fuzz_tzif) dict=(-dict="$here/tzif.dict") ;;
*) dict=() ;;
esac

rc=0
# -timeout: an input that takes 10 s is a hang; -rss_limit_mb: libFuzzer's default (2 GiB)
# said out loud: a bigger malloc is a finding too.
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "${dict[@]}" "$@" "$work/new" "$corpus" >"$work/log.txt" 2>&1 || rc=$?
grep -E '^INFO: Seed|INITED|^Done|stat::number_of_executed_units|stat::peak_rss' "$work/log.txt" || true
if [ "$rc" -ne 0 ]; then
  tail -n 80 "$work/log.txt"
  for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$work"/slow-unit-*; do
    [ -e "$f" ] && echo "FAIL: $name found $f; replay: $bin $f"
  done
  exit 1
fi
echo "ok - $name: the corpus ($(ls "$corpus" | wc -l) inputs), then ${secs} s of fuzzing: no finding"
