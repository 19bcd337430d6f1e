#!/usr/bin/env bash
# The second README command, and what CI runs: install packages, build, start the private
# services the tests use (a PostgreSQL server, a single-node Slurm cluster and, where
# network namespaces can be made, a two-node one, all on their own ports and folders,
# stopped again at the end), then run every test with ctest; then the sanitizer build's
# tests (scripts/test-sanitize.sh) and the fuzz targets (scripts/test-fuzz.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
scripts/build.sh
. scripts/mpi-env.sh

stop_services() {
  [ -x scripts/cluster.sh ] && scripts/cluster.sh stop || true
  [ -x scripts/slurm-cluster.sh ] && scripts/slurm-cluster.sh stop || true
  [ -x scripts/pg-server.sh ] && scripts/pg-server.sh stop || true
}
trap stop_services EXIT
if [ -x scripts/pg-server.sh ]; then
  scripts/pg-server.sh start
  eval "$(scripts/pg-server.sh env)"
fi
if [ -x scripts/slurm-cluster.sh ]; then
  scripts/slurm-cluster.sh start
  eval "$(scripts/slurm-cluster.sh env)"
fi

# The two-node cluster of network namespaces (tests/e2e/test_cluster.sh) where namespaces
# can be made; its test reads its settings from scripts/cluster.sh env itself (SLURM_CONF
# above stays the single-node cluster's), and says SKIP where they cannot.
if [ -x scripts/cluster.sh ]; then
  if why=$(scripts/cluster.sh can); then
    scripts/cluster.sh start || echo "test.sh: warning: scripts/cluster.sh start failed; tests/e2e/test_cluster.sh will try again and fail" >&2
  else
    echo "test.sh: no two-node cluster here: $why (tests/e2e/test_cluster.sh will skip)"
  fi
fi

rc=0
(cd build && ctest --output-on-failure --timeout 900 "$@") || rc=$?

# The sanitizer and fuzzing stages (docs/testing.md), each in a build of its own, while the
# services still run; after the main tests, so that a failure here still shows theirs.
# UP_TEST_SANITIZE=0 or UP_TEST_FUZZ=0 leaves one out.
if [ "${UP_TEST_SANITIZE:-1}" != 0 ]; then
  scripts/test-sanitize.sh || rc=1
fi
if [ "${UP_TEST_FUZZ:-1}" != 0 ]; then
  scripts/test-fuzz.sh || rc=1
fi
exit "$rc"
