#!/usr/bin/env bash
# PostgreSQL for development and tests, without Docker.
#
#   scripts/pg.sh test CMD...   run CMD with DATABASE_URL pointing at a PostgreSQL superuser:
#                               $DATABASE_URL if set, else the server on 127.0.0.1:5432 if it
#                               lets `postgres` in, else a throwaway cluster (deleted afterwards)
#   scripts/pg.sh start-local   create (first time) and start the persistent development cluster
#                               in .local/pg; prints its superuser URL
#   scripts/pg.sh stop-local    stop the development cluster (its data stays for the next `just up`)
#
# PostgreSQL is installed with apt-get when missing. Clusters run as the `postgres` system user
# when this script runs as root, because the server refuses to run as root.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
default_url="postgres://postgres@127.0.0.1:5432/postgres"
local_port="${PG_LOCAL_PORT:-55432}"

log() { echo "pg.sh: $*" >&2; }

install_postgres() {
  log "PostgreSQL is not installed; installing it with apt-get"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "need root (or sudo) to apt-get install postgresql"; exit 1; }
    sudo="sudo"
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql postgresql-client >/dev/null
}

# The bin directory of the newest installed server (initdb, pg_ctl, postgres).
server_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    install_postgres
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$dir"
}

ensure_client() {
  command -v psql >/dev/null && command -v pg_isready >/dev/null || install_postgres
}

# Whether URL accepts a superuser login (pg_isready alone would not notice a refused password).
can_login() {
  psql "$1" -XAtqc "SELECT rolsuper FROM pg_roles WHERE rolname = current_user" 2>/dev/null | grep -qx t
}

# Runs a command as the owner of the cluster files.
as_cluster_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port
  for port in $(seq 55433 55532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  log "no free port in 55433-55532"; exit 1
}

# Creates a cluster in DIR (trust auth on loopback: only for development and tests).
init_cluster() {
  local bin=$1 dir=$2
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  as_cluster_owner "$bin/initdb" --pgdata="$dir/data" --username=postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
}

start_cluster() {
  local bin=$1 dir=$2 port=$3 extra=${4:-}
  as_cluster_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --silent \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 $extra" start \
    || { tail -n 20 "$dir/server.log" >&2; exit 1; }
}

cmd_test() {
  ensure_client
  if [ -n "${DATABASE_URL:-}" ]; then
    can_login "$DATABASE_URL" || { log "DATABASE_URL is set but does not log in as a superuser"; exit 1; }
    exec "$@"
  fi
  if can_login "$default_url"; then
    DATABASE_URL=$default_url exec "$@"
  fi
  log "no PostgreSQL superuser at $default_url; starting a throwaway cluster"
  local bin dir port status=0
  bin=$(server_bin)
  dir=$(mktemp -d /tmp/scrims-test-pg.XXXXXX)
  chmod 755 "$dir"
  trap 'as_cluster_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=immediate --silent stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
  init_cluster "$bin" "$dir"
  port=$(free_port)
  # Durability is pointless for a cluster deleted after the run.
  start_cluster "$bin" "$dir" "$port" "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres" "$@" || status=$?
  exit "$status"
}

# The development cluster lives in .local/pg. As root, the `postgres` user must be able to reach
# it; when the checkout is somewhere it cannot (a 0700 home directory), the data goes to
# /var/tmp and .local/pg links there.
local_dir() {
  local dir="$repo/.local/pg"
  if [ -e "$dir" ]; then
    readlink -f "$dir"
    return
  fi
  mkdir -p "$repo/.local"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$repo/.local" 2>/dev/null; then
    local elsewhere
    elsewhere="/var/tmp/scrims-dev-pg-$(echo "$repo" | sha256sum | cut -c1-12)"
    mkdir -p "$elsewhere"
    ln -s "$elsewhere" "$dir"
    log "the postgres user cannot reach $repo; keeping the cluster in $elsewhere"
  fi
  mkdir -p "$dir"
  readlink -f "$dir"
}

cmd_start_local() {
  ensure_client
  local bin dir url
  bin=$(server_bin)
  dir=$(local_dir)
  url="postgres://postgres@127.0.0.1:$local_port/postgres"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "creating the development cluster in $dir"
    init_cluster "$bin" "$dir"
  fi
  if as_cluster_owner "$bin/pg_ctl" --pgdata="$dir/data" status >/dev/null 2>&1; then
    log "reusing the running development cluster on port $local_port"
  else
    log "starting the development cluster on port $local_port"
    start_cluster "$bin" "$dir" "$local_port"
  fi
  echo "$url"
}

cmd_stop_local() {
  local dir="$repo/.local/pg" bin
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "no development cluster in $dir"
    return
  fi
  bin=$(server_bin)
  if as_cluster_owner "$bin/pg_ctl" --pgdata="$dir/data" status >/dev/null 2>&1; then
    as_cluster_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait --silent stop
    log "development cluster stopped (data kept in $dir)"
  else
    log "development cluster is not running"
  fi
}

case "${1:-}" in
  test) shift; cmd_test "$@" ;;
  start-local) cmd_start_local ;;
  stop-local) cmd_stop_local ;;
  *) echo "usage: $0 test CMD... | start-local | stop-local" >&2; exit 64 ;;
esac
