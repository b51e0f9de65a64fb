#!/usr/bin/env bash
# Runs "$@" with a throw-away PostgreSQL server on 127.0.0.1 and its URL in
# SB_TEST_PG_URL. Without PostgreSQL binaries the command still runs; the
# PostgreSQL tests then skip with a visible message.
set -uo pipefail

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  echo "== PostgreSQL is not installed: PostgreSQL tests will be skipped"
  exec "$@"
fi

run_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

datadir=$(mktemp -d /tmp/sb-pg.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres: "$datadir"
# A free port: let the kernel pick one, then hand it to PostgreSQL.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 54329)

stop_pg() {
  run_as_pg "$pg_bin/pg_ctl" -D "$datadir/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$datadir"
}
trap stop_pg EXIT

set -e
run_as_pg "$pg_bin/initdb" -D "$datadir/data" -U switchboard --auth=trust -E UTF8 >/dev/null
run_as_pg "$pg_bin/pg_ctl" -D "$datadir/data" -w -l "$datadir/pg.log" \
  -o "-h 127.0.0.1 -p $port -k $datadir -c fsync=off -c synchronous_commit=off" start >/dev/null
run_as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U switchboard switchboard_test

set +e
export SB_TEST_PG_URL="postgresql://switchboard@127.0.0.1:$port/switchboard_test"
export SB_TEST_PG_BIN="$pg_bin"
export SB_TEST_PG_DATADIR="$datadir/data"
export SB_TEST_PG_PORT="$port"
echo "== PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
