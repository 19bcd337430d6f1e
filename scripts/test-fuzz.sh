#!/usr/bin/env bash
# CI's fuzzing stage (scripts/test.sh runs it after the sanitizer stage; it runs alone too):
# builds the libFuzzer targets of tests/fuzz into build-fuzz/ (or $UP_FUZZ_BUILD) with
# clang (UPTIME_FUZZ: coverage, ASan, UBSan, -Werror), then runs each on its checked-in
# corpus and for UP_FUZZ_SECONDS (default 10) more, two at a time. For long runs see
# docs/testing.md "Fuzzing".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fz=${UP_FUZZ_BUILD:-$root/build-fuzz}
export UP_FUZZ_SECONDS=${UP_FUZZ_SECONDS:-10}
t0=$(date +%s)
CC=${UP_FUZZ_CC:-clang-14} cmake -S "$root" -B "$fz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DUPTIME_FUZZ=ON -DUPTIME_WERROR=ON >/dev/null
cmake --build "$fz" -j"$(nproc)" --target fuzz
echo "test-fuzz: built $fz in $(($(date +%s) - t0)) s"
cd "$fz"
ctest --output-on-failure -j"$(nproc)" -R '^fuzz\.' "$@"
echo "test-fuzz: done in $(($(date +%s) - t0)) s"
