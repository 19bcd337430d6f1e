#!/usr/bin/env bash
# The second README command, and what CI runs: install packages, build, start the private
# services the tests use (a PostgreSQL server and a single-node Slurm cluster, both on
# their own ports and folders, stopped again at the end), then run every test with ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
scripts/build.sh
. scripts/mpi-env.sh

stop_services() {
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

cd build
ctest --output-on-failure --timeout 900 "$@"
