#!/usr/bin/env bash
# Provisions the platform's roles in one database (used by docker-compose, Nomad and `just up`).
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) of a
# superuser. Passwords: SCRIM_OWNER_PASSWORD, MATCHMAKING_DATABASE__PASSWORD, SUBMISSION_DATABASE__PASSWORD,
# NOTIFICATIONS_DATABASE__PASSWORD, CORE_EVENTS_DATABASE__PASSWORD (the same variables the services
# read their own password from). They are handed to psql through its environment
# (\getenv), never on a command line where `ps` would show them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for var in SCRIM_OWNER_PASSWORD MATCHMAKING_DATABASE__PASSWORD SUBMISSION_DATABASE__PASSWORD NOTIFICATIONS_DATABASE__PASSWORD CORE_EVENTS_DATABASE__PASSWORD; do
  if [ -z "${!var:-}" ]; then
    echo "provision-roles: $var is not set" >&2
    exit 64
  fi
done

psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 <<SQL
\getenv owner_pw SCRIM_OWNER_PASSWORD
\getenv matchmaking_pw MATCHMAKING_DATABASE__PASSWORD
\getenv submission_pw SUBMISSION_DATABASE__PASSWORD
\getenv notifications_pw NOTIFICATIONS_DATABASE__PASSWORD
\getenv core_events_pw CORE_EVENTS_DATABASE__PASSWORD
SELECT set_config('provision.scrim_owner_password', :'owner_pw', false) \gset ignored_
SELECT set_config('provision.matchmaking_password', :'matchmaking_pw', false) \gset ignored_
SELECT set_config('provision.submission_password', :'submission_pw', false) \gset ignored_
SELECT set_config('provision.notifications_password', :'notifications_pw', false) \gset ignored_
SELECT set_config('provision.core_events_password', :'core_events_pw', false) \gset ignored_
\i ${here}/provision-roles.sql
SQL
echo "provision-roles: roles ready in database ${PGDATABASE:-?}"
