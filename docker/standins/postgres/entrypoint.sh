#!/bin/sh
# First start: initdb into $PGDATA with POSTGRES_USER / POSTGRES_PASSWORD, create POSTGRES_DB, allow
# password logins from the network. Then run the server in the foreground as user postgres.
set -eu
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "error: POSTGRES_PASSWORD is not set (this stand-in, like the official image, requires it)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
         --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  # a private socket while setting up, so pg_isready (the healthcheck) says ready only for the real start
  tmp=$(mktemp -d)
  pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses='' -k $tmp" start
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -h "$tmp" -U "$POSTGRES_USER" -d postgres -v ON_ERROR_STOP=1 -q \
         -c "CREATE DATABASE \"$POSTGRES_DB\""
  fi
  pg_ctl -D "$PGDATA" -w -s -m fast stop
  rmdir "$tmp"
  echo "database initialised: user $POSTGRES_USER, database $POSTGRES_DB" >&2
fi
if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
