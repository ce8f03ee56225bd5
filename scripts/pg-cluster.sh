#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb and pg_ctl as an unprivileged user (the
# `postgres` system user when run as root), listening on a Unix socket in a temporary directory
# only (no TCP port), local connections trusted. Prints the variables to export.
#
#   eval "$(scripts/pg-cluster.sh start)"      # sets AREA_TEST_DATABASE_URL and AREA_TEST_PG_DIR
#   scripts/pg-cluster.sh stop "$AREA_TEST_PG_DIR"
#   scripts/pg-cluster.sh pause DIR / resume DIR   # stop and start the server, keeping its data
#
# Needs Debian's `postgresql` package (scripts/setup.sh installs it).
set -euo pipefail

pg_bin() {
  command -v "$1" 2>/dev/null && return
  local found
  found=$(ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1)
  [ -n "$found" ] && echo "$found"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case ${1:-} in
start)
  INITDB=$(pg_bin initdb) || true
  PG_CTL=$(pg_bin pg_ctl) || true
  if [ -z "$INITDB" ] || [ -z "$PG_CTL" ]; then
    echo "pg-cluster: PostgreSQL's initdb and pg_ctl were not found: install Debian's postgresql package (scripts/setup.sh does)" >&2
    exit 1
  fi
  DIR=$(mktemp -d /tmp/area-pg.XXXXXX)
  chmod 755 "$DIR"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres "$DIR"
  fi
  if ! as_owner "$INITDB" -D "$DIR/data" --auth=trust --username=area --encoding=UTF8 --no-locale --no-sync >"$DIR/initdb.log" 2>&1; then
    cat "$DIR/initdb.log" >&2
    exit 1
  fi
  if ! as_owner "$PG_CTL" -D "$DIR/data" -l "$DIR/server.log" -w -o "-c listen_addresses='' -k $DIR" start >/dev/null; then
    cat "$DIR/server.log" >&2
    exit 1
  fi
  echo "export AREA_TEST_DATABASE_URL='postgres://area@localhost/postgres?host=$DIR'"
  echo "export AREA_TEST_PG_DIR='$DIR'"
  ;;
stop)
  DIR=${2:?usage: pg-cluster.sh stop DIR}
  PG_CTL=$(pg_bin pg_ctl) || true
  if [ -n "$PG_CTL" ] && [ -d "$DIR/data" ]; then
    as_owner "$PG_CTL" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
  ;;
pause)
  DIR=${2:?usage: pg-cluster.sh pause DIR}
  as_owner "$(pg_bin pg_ctl)" -D "$DIR/data" -m fast -w stop >/dev/null
  ;;
resume)
  DIR=${2:?usage: pg-cluster.sh resume DIR}
  as_owner "$(pg_bin pg_ctl)" -D "$DIR/data" -l "$DIR/server.log" -w -o "-c listen_addresses='' -k $DIR" start >/dev/null
  ;;
*)
  echo "usage: scripts/pg-cluster.sh start | stop DIR | pause DIR | resume DIR" >&2
  exit 2
  ;;
esac
