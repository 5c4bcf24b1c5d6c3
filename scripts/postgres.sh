#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for vbr's tests, on loopback only, and print its URL.
#
#   bash scripts/postgres.sh          # prints e.g. postgresql+psycopg://vbr:vbr@127.0.0.1:55432/vbr_test
#   export VBR_TEST_PG_URL=$(bash scripts/postgres.sh)
#   bash scripts/postgres-stop.sh     # stop it (add --purge to delete its data directory)
#   VBR_PG_DURABLE=1 bash scripts/postgres.sh        # a second cluster with PostgreSQL's durable
#   VBR_PG_DURABLE=1 bash scripts/postgres-stop.sh   # defaults, for benchmarks (see below)
#
# Idempotent and quick when the server is already running. As root on Debian it installs the
# distribution's `postgresql` package if it is missing (apt, non-interactively) and runs the
# server as the `postgres` user; as any other user it uses an installed PostgreSQL and runs the
# server as that user. The cluster lives in its own data directory ($VBR_PG_DIR, default
# /tmp/vbr-pg), listens only on 127.0.0.1:$VBR_PG_PORT (default 55432) plus a Unix socket in
# that directory, and is tuned for tests (fsync off): never keep data you care about in it.
#
# With VBR_PG_DURABLE=1 it starts a separate cluster (default /tmp/vbr-pg-durable, port 55433)
# that keeps PostgreSQL's durable defaults (fsync, synchronous_commit and full_page_writes on):
# each commit waits for its WAL to reach the disk, as in production. benchmarks/http_load.py
# measures both so the figures say which one they are.
#
# It creates the role vbr (password vbr, CREATEDB) and the databases vbr_test and
# vbr_test_equality (what vbr derives for the equality store of vbr_test), both owned by vbr.
# All progress goes to stderr; stdout is only the URL.
set -euo pipefail

DURABLE="${VBR_PG_DURABLE:-0}"
case "$DURABLE" in 0|1) ;; *) echo "postgres.sh: VBR_PG_DURABLE must be 0 or 1, not '$DURABLE'" >&2; exit 2 ;; esac
if [ "$DURABLE" = 1 ]; then
    PG_DIR="${VBR_PG_DIR:-/tmp/vbr-pg-durable}"
    PG_PORT="${VBR_PG_PORT:-55433}"
else
    PG_DIR="${VBR_PG_DIR:-/tmp/vbr-pg}"
    PG_PORT="${VBR_PG_PORT:-55432}"
fi
PG_USER="${VBR_PG_USER:-vbr}"
PG_PASSWORD="${VBR_PG_PASSWORD:-vbr}"
PG_DB="${VBR_PG_DB:-vbr_test}"
DATA="$PG_DIR/data"
SOCK="$PG_DIR/sock"
LOG="$PG_DIR/server.log"

say() { echo "postgres.sh: $*" >&2; }
die() { say "$*"; exit 1; }

find_bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    fi
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return; }
    d="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"
    [ -x "$d/initdb" ] && { echo "$d"; return; }
    return 1
}

BIN="$(find_bindir || true)"
if [ -z "$BIN" ]; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; run this script as root (it uses apt) or install postgresql"
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is not available"
    say "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends postgresql >&2; then
        apt-get update -q >&2
        apt-get install -y -q --no-install-recommends postgresql >&2
    fi
    BIN="$(find_bindir)" || die "postgresql was installed but initdb was not found"
fi

# Who runs the server: the postgres user when we are root (PostgreSQL refuses to run as root).
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' user (expected from Debian's package)"
    as_pg() { runuser -u postgres -- "$@"; }
    OWNER=postgres
else
    as_pg() { "$@"; }
    OWNER="$(id -un)"
fi
SUPER="$OWNER"  # initdb makes the OS user running it the bootstrap superuser
psql_super() { as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PG_PORT" -U "$SUPER" -d postgres "$@"; }

mkdir -p "$PG_DIR"
if [ "$(id -u)" = 0 ]; then chown "$OWNER" "$PG_DIR"; fi
chmod 700 "$PG_DIR"

if [ ! -s "$DATA/PG_VERSION" ]; then
    say "creating a cluster in $DATA"
    as_pg mkdir -p "$DATA" "$SOCK"
    as_pg "$BIN/initdb" -D "$DATA" -U "$SUPER" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    cat >>"$DATA/postgresql.conf" <<EOF

# vbr cluster (scripts/postgres.sh): loopback only.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SOCK'
max_connections = 200
EOF
    if [ "$DURABLE" = 1 ]; then
        echo "# durable: PostgreSQL's defaults for fsync, synchronous_commit, full_page_writes" >>"$DATA/postgresql.conf"
    else
        cat >>"$DATA/postgresql.conf" <<EOF
# tests: fast and not durable
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi
fi
as_pg mkdir -p "$SOCK"

if as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    say "already running ($DATA, port $PG_PORT)"
else
    say "starting the server on 127.0.0.1:$PG_PORT"
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >&2 \
        || { tail -n 30 "$LOG" >&2 || true; die "the server did not start (log: $LOG)"; }
fi

# Role and databases (each step only when missing).
if [ "$(psql_super -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != 1 ]; then
    psql_super -c "CREATE ROLE \"$PG_USER\" LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
fi
for db in "$PG_DB" "${PG_DB}_equality"; do
    if [ "$(psql_super -tA -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
        psql_super -c "CREATE DATABASE \"$db\" OWNER \"$PG_USER\""
    fi
done

echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
