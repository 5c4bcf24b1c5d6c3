#!/usr/bin/env bash
# Stop the test PostgreSQL server started by scripts/postgres.sh.
#   bash scripts/postgres-stop.sh           # stop it, keep its data directory
#   bash scripts/postgres-stop.sh --purge   # stop it and delete $VBR_PG_DIR
#   VBR_PG_DURABLE=1 bash scripts/postgres-stop.sh   # the durable cluster instead
set -euo pipefail

if [ "${VBR_PG_DURABLE:-0}" = 1 ]; then PG_DIR="${VBR_PG_DIR:-/tmp/vbr-pg-durable}"; else PG_DIR="${VBR_PG_DIR:-/tmp/vbr-pg}"; fi
DATA="$PG_DIR/data"

BIN="$( (pg_config --bindir 2>/dev/null) || true)"
[ -x "$BIN/pg_ctl" ] || BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"

if [ "$(id -u)" = 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi

if [ -n "$BIN" ] && [ -x "$BIN/pg_ctl" ] && [ -s "$DATA/PG_VERSION" ] \
        && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
else
    echo "postgres-stop.sh: no server running in $DATA" >&2
fi

if [ "${1:-}" = "--purge" ]; then
    case "$PG_DIR" in
        ""|"/") echo "postgres-stop.sh: refusing to delete '$PG_DIR'" >&2; exit 1 ;;
    esac
    rm -rf "$PG_DIR"
    echo "postgres-stop.sh: deleted $PG_DIR" >&2
fi
