#!/usr/bin/env bash
# A report triggered on a key=value conninfo string (host=... port=... dbname=... user=...)
# runs against that PostgreSQL server -- the string is never taken for a file path -- and
# gives the direct run's CSV; locally, and through Slurm when a cluster is configured
# (SLURM_CONF). The status file names the source as it was given.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/pg.sh"
. "$UP_SRC/tests/e2e/lifecycle.sh"
trap 'pg_cleanup; cleanup' EXIT
pg_need
G=$UP_SRC/tests/data/golden
schema=up_e2e_kv_$$

# PG_BASE (a URI) in the key=value form: host=H port=P dbname=D user=U.
kv=$(python3 - "$PG_BASE" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
parts = ["host=%s" % (u.hostname or "localhost"), "port=%d" % (u.port or 5432),
         "dbname=%s" % urllib.parse.unquote(u.path.lstrip("/") or "postgres")]
if u.username:
    parts.append("user=%s" % urllib.parse.unquote(u.username))
print(" ".join(parts))
PY
)
pg_schema "$schema" >/dev/null
kv="$kv options='-csearch_path=$schema'"
echo "# source: $kv"
"$LOAD" --db "$kv" --dir "$G" --no-rejects -q
run_report 2 --db "$kv" --reports-dir direct --report-id d
same_files "$G/expected.csv" direct/d.csv "a direct run on the conninfo string gives the golden CSV"

# Through UPTIME_DB, and through --db, from a folder where no such file exists.
mkdir elsewhere && cd elsewhere
id=$(UPTIME_DB=$kv trigger -n 2 --reports-dir "$T/rep")
[ "$(wait_done "$T/rep" "$id" | tail -1)" = Complete ] ||
  fail "report on UPTIME_DB='$kv': $(cat "$T/get.out") $(cat "$T/rep/$id.log")"
jq -e --arg kv "$kv" '.source == $kv' "$T/rep/$id.status.json" >/dev/null ||
  fail "status source is not the conninfo string: $(jq .source "$T/rep/$id.status.json")"
"$GET" "$id" --reports-dir "$T/rep" >"$T/env.csv"
same_files "$T/direct/d.csv" "$T/env.csv" "UPTIME_DB=conninfo: the triggered report equals the direct run"
id=$(trigger -n 3 --db "$kv" --reports-dir "$T/rep")
[ "$(wait_done "$T/rep" "$id" | tail -1)" = Complete ] || fail "report on --db '$kv': $(cat "$T/get.out")"
"$GET" "$id" --reports-dir "$T/rep" >"$T/opt.csv"
same_files "$T/direct/d.csv" "$T/opt.csv" "--db conninfo: the triggered report equals the direct run"
cd "$T"
[ -z "$(ls elsewhere)" ] || fail "something was created in the working folder: $(ls elsewhere)"

if [ -n "${SLURM_CONF:-}" ] && sinfo -h >/dev/null 2>&1; then
  id=$(UPTIME_DB=$kv trigger --slurm -n 2 --time 5 --reports-dir rep)
  [ "$(wait_done rep "$id" | tail -1)" = Complete ] || fail "Slurm report on '$kv': $(cat "$T/get.out")"
  "$GET" "$id" --reports-dir rep >slurm.csv
  same_files direct/d.csv slurm.csv "Slurm, UPTIME_DB=conninfo: the report equals the direct run"
else
  echo "# no Slurm cluster configured (SLURM_CONF): the Slurm case is skipped"
fi
echo "$checks passed, 0 failed"
