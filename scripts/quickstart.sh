#!/usr/bin/env bash
# The first README command: install, build, load the sample into SQLite and run the MPI
# job on 2 ranks. Prints where the report is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
scripts/build.sh
. scripts/mpi-env.sh
db=${UPTIME_DB:-data/uptime.db}
build/uptime_load --db "$db" --dir data/sample
mpirun -n "${RANKS:-2}" build/uptime_report --db "$db" --reports-dir reports | tee /tmp/uptime_quickstart.$$
id=$(sed -n 's/^report \([^ ]*\) .*/\1/p' /tmp/uptime_quickstart.$$)
rm -f /tmp/uptime_quickstart.$$
echo
echo "The report is $root/reports/$id.csv (status: reports/$id.status.json). First rows:"
head -n 5 "reports/$id.csv"
