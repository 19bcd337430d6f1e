#!/usr/bin/env bash
# Serves the original's HTTP API on its address, 127.0.0.1:8000, in one command: builds
# when uptime_serve is missing (installing packages first), loads data/sample when the
# database does not exist yet, sets up Open MPI's environment, and runs build/uptime_serve
# in the foreground (Ctrl-C stops it; running reports go on). Extra arguments go to
# uptime_serve (docs/http.md), e.g. scripts/serve.sh -n 4 --listen 127.0.0.1:9000.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${UP_BUILD:-$root/build}
if [ ! -x "$build/uptime_serve" ]; then
  scripts/install-deps.sh
  scripts/build.sh
fi
. scripts/mpi-env.sh
db=${UPTIME_DB:-data/uptime.db}
if [ ! -e "$db" ] && [ "$(UPTIME_DB=$db "$build/uptime_ctl" source kind)" = sqlite ]; then
  "$build/uptime_load" --db "$db" --dir data/sample -q
fi
export UPTIME_DB=$db UPTIME_HOME=$root
exec "$build/uptime_serve" "$@"
