#!/usr/bin/env bash
# Runs "$@" with throw-away database servers on 127.0.0.1: PostgreSQL (URL in
# SB_TEST_PG_URL) and MariaDB, a PBX's CDR database (an empty database
# asteriskcdrdb; URL in SB_TEST_MYSQL_URL, user root without a password).
# Without a server's binaries the command still runs; its tests then skip
# with a visible message.
set -uo pipefail

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo "$1"
}

# -- MariaDB --------------------------------------------------------------
my_datadir=""
stop_mariadb() {
  if [ -n "$my_datadir" ]; then
    if [ -f "$my_datadir/mariadb.pid" ]; then
      kill "$(cat "$my_datadir/mariadb.pid")" 2>/dev/null
      for _ in $(seq 1 100); do [ -f "$my_datadir/mariadb.pid" ] || break; sleep 0.1; done
    fi
    rm -rf "$my_datadir"
  fi
}
start_mariadb() {
  local mariadbd
  mariadbd=$(command -v mariadbd || ls /usr/sbin/mariadbd 2>/dev/null)
  if [ -z "$mariadbd" ] || ! command -v mariadb-install-db >/dev/null; then
    echo "== MariaDB is not installed: CDR catch-up tests will be skipped"
    return
  fi
  my_datadir=$(mktemp -d /tmp/sb-mariadb.XXXXXX)
  local port user=()
  port=$(free_port 33069)
  [ "$(id -u)" -eq 0 ] && { chown mysql: "$my_datadir"; user=(--user=mysql); }
  mariadb-install-db "${user[@]}" --datadir="$my_datadir/data" \
    --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1 || {
    echo "== MariaDB: mariadb-install-db failed: CDR catch-up tests will be skipped"
    return
  }
  "$mariadbd" --no-defaults "${user[@]}" --datadir="$my_datadir/data" \
    --bind-address=127.0.0.1 --port="$port" --socket="$my_datadir/mariadb.sock" \
    --pid-file="$my_datadir/mariadb.pid" \
    --innodb-flush-log-at-trx-commit=0 --skip-log-bin \
    --log-error="$my_datadir/mariadb.log" >/dev/null 2>&1 &
  for _ in $(seq 1 200); do
    mariadb --no-defaults -uroot -h127.0.0.1 -P"$port" -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! mariadb --no-defaults -uroot -h127.0.0.1 -P"$port" \
      -e "CREATE DATABASE asteriskcdrdb" >/dev/null 2>&1; then
    echo "== MariaDB did not start (see $my_datadir/mariadb.log): CDR catch-up tests will be skipped"
    return
  fi
  export SB_TEST_MYSQL_URL="mysql://root@127.0.0.1:$port/asteriskcdrdb"
  export SB_TEST_MYSQL_PORT="$port"
  export SB_TEST_MYSQL_PIDFILE="$my_datadir/mariadb.pid"
  echo "== MariaDB $("$mariadbd" --version | awk '{print $3}') on 127.0.0.1:$port"
}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  echo "== PostgreSQL is not installed: PostgreSQL tests will be skipped"
  trap stop_mariadb EXIT
  start_mariadb
  "$@"
  exit $?
fi

run_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

datadir=$(mktemp -d /tmp/sb-pg.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres: "$datadir"
# A free port: let the kernel pick one, then hand it to PostgreSQL.
port=$(free_port 54329)

stop_pg() {
  run_as_pg "$pg_bin/pg_ctl" -D "$datadir/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$datadir"
  stop_mariadb
}
trap stop_pg EXIT
start_mariadb

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
