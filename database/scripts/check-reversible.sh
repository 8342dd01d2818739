#!/usr/bin/env bash
# Proves every migration in database/migrations is reversible, using throw-away databases:
#   1. ups 1..N, dump; downs N..1 must leave a catalog identical to a fresh database;
#      ups again must reproduce the first dump byte for byte;
#   2. for each k: (ups 1..k, down k) must dump identically to (ups 1..k-1).
# Usage: PGHOST=127.0.0.1 PGUSER=postgres database/scripts/check-reversible.sh
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../migrations" && pwd)"
tmp="$(mktemp -d)"
prefix="mig_check_$$"
dbs=()
cleanup() {
    for db in "${dbs[@]}"; do dropdb --if-exists "$db" >/dev/null 2>&1 || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

mapfile -t ups < <(find "$dir" -name '*.up.sql' | sort)
n=${#ups[@]}
down_of() { echo "${1%.up.sql}.down.sql"; }
newdb() { db="${prefix}_$1"; createdb "$db"; dbs+=("$db"); }  # sets $db
run() { psql -X -q -v ON_ERROR_STOP=1 -1 -d "$1" -f "$2" >/dev/null; }
# pg_dump 15.14+ writes a random \restrict token into every dump unless given a fixed key.
restrict=()
if [[ "$(pg_dump --help)" == *--restrict-key* ]]; then restrict=(--restrict-key=migcheck); fi
dump() { pg_dump -s --no-owner "${restrict[@]}" "$1" >"$2"; }
same() {
    if cmp -s "$1" "$2"; then echo "ok   $3"; else echo "FAIL $3"; diff -u "$1" "$2" | head -40; exit 1; fi
}

newdb empty; dump "$db" "$tmp/empty.sql"

newdb full
for f in "${ups[@]}"; do run "$db" "$f"; done
dump "$db" "$tmp/up1.sql"
for ((i = n - 1; i >= 0; i--)); do run "$db" "$(down_of "${ups[$i]}")"; done
dump "$db" "$tmp/down.sql"
same "$tmp/empty.sql" "$tmp/down.sql" "all downs leave a fresh-database catalog"
for f in "${ups[@]}"; do run "$db" "$f"; done
dump "$db" "$tmp/up2.sql"
same "$tmp/up1.sql" "$tmp/up2.sql" "up/down/up reproduces the schema byte for byte"

cp "$tmp/empty.sql" "$tmp/level0.sql"
for ((k = 1; k <= n; k++)); do
    newdb "l$k"
    for ((i = 0; i < k; i++)); do run "$db" "${ups[$i]}"; done
    dump "$db" "$tmp/level$k.sql"
    run "$db" "$(down_of "${ups[$((k - 1))]}")"
    dump "$db" "$tmp/level$k.down.sql"
    same "$tmp/level$((k - 1)).sql" "$tmp/level$k.down.sql" "down $(basename "${ups[$((k - 1))]}" .up.sql) restores level $((k - 1))"
done
