#!/usr/bin/env bash
# The second README command, and what CI runs: install, build (plain and with
# AddressSanitizer), then every unit and end-to-end test through ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
scripts/build.sh
. scripts/mpi-env.sh
cd build
ctest --output-on-failure --timeout 900 "$@"
