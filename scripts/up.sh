#!/usr/bin/env bash
# `just up`: the whole stack on this machine, without Docker.
#
# 1. PostgreSQL: the server in $DATABASE_URL (a superuser URL, postgres://user[:pw]@host[:port]/db)
#    when set, else the development cluster in .local/pg (created on first use, then reused).
# 2. The `scrims` database (SCRIMS_DB to change it) with the roles provisioned and the schema
#    migrated, using the public development passwords in deploy/dev.env; then the demo league
#    (deploy/demo-league.json) imported by `core-events import`.
# 3. The four services, their logs interleaved with a [name] prefix, until Ctrl-C stops them all.
#
# `scripts/up.sh --migrate-only` (`just migrate`) stops after step 2.
set -euo pipefail
migrate_only=false
[ "${1:-}" = "--migrate-only" ] && migrate_only=true

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
services=(matchmaking submission notifications core-events)
ports=(8081 8082 8083 8084)
db_name="${SCRIMS_DB:-scrims}"

say() { printf '\033[1mup:\033[0m %s\n' "$*" >&2; }

say "building the services"
cargo build --quiet --bins

started_cluster=false
if [ -n "${DATABASE_URL:-}" ]; then
  admin_url=$DATABASE_URL
else
  admin_url=$(scripts/pg.sh start-local)
  started_cluster=true
fi

url_re='^postgres(ql)?://([^:@/]+)(:([^@]*))?@([^:/?]+)(:([0-9]+))?(/([^?]*))?'
[[ $admin_url =~ $url_re ]] || { say "cannot read DATABASE_URL (expected postgres://user[:pw]@host[:port]/db)"; exit 64; }
export PGUSER=${BASH_REMATCH[2]} PGPASSWORD=${BASH_REMATCH[4]} PGHOST=${BASH_REMATCH[5]} PGPORT=${BASH_REMATCH[7]:-5432}

if ! psql -XAtq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1; then
  say "creating database $db_name"
  psql -Xq -d postgres -c "CREATE DATABASE \"$db_name\""
fi

set -a
# shellcheck source=../deploy/dev.env
. deploy/dev.env
set +a
PGDATABASE=$db_name deploy/provision-roles.sh >/dev/null
say "roles provisioned in $db_name"

# Every service reads the same database location; each logs in as its own role.
for prefix in MATCHMAKING SUBMISSION NOTIFICATIONS CORE_EVENTS; do
  export "${prefix}_DATABASE__HOST=$PGHOST" "${prefix}_DATABASE__PORT=$PGPORT" "${prefix}_DATABASE__NAME=$db_name"
done
MATCHMAKING_DATABASE__USER=scrim_owner MATCHMAKING_DATABASE__PASSWORD=$SCRIM_OWNER_PASSWORD \
  target/debug/matchmaking migrate
unset PGPASSWORD SCRIM_OWNER_PASSWORD
if $migrate_only; then
  say "schema migrated in $db_name"
  exit 0
fi

# The demo league (its players own the replay fixtures' accounts). Importing it again changes
# nothing, so every `just up` runs it; records changed through the admin API since are put back.
target/debug/core-events import deploy/demo-league.json >/dev/null
say "demo league loaded (deploy/demo-league.json)"

pids=()
stop_all() {
  trap - INT TERM EXIT
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if $started_cluster; then scripts/pg.sh stop-local; fi
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

colors=(32 34 35 36)
for i in "${!services[@]}"; do
  name=${services[$i]}
  # A subshell per service: the binary's output gets a coloured [name] prefix, line by line.
  (
    # The prefixer ignores Ctrl-C so that it still prints the service's shutdown lines; it ends
    # when the service closes its output.
    exec > >(trap '' INT; exec sed -u "s/^/\x1b[${colors[$i]}m[$name]\x1b[0m /") 2>&1
    exec "target/debug/$name"
  ) &
  pids+=($!)
done

for i in "${!services[@]}"; do
  say "${services[$i]}: http://127.0.0.1:${ports[$i]}  (/healthz /readyz /metrics)"
done
say "database: postgres://$PGUSER@$PGHOST:$PGPORT/$db_name — press Ctrl-C to stop everything"
wait -n "${pids[@]}" || true
say "a service exited"
