#!/usr/bin/env bash
# Quick start: see sluice capture changes in a minute.
#
#   tools/quickstart.sh
#
# On a Debian machine with Rust: installs MariaDB (and a C compiler) if
# missing (apt-get, tools/deps.sh),
# starts a private instance with binlog on (tools/local-mariadb.sh, in a
# temporary folder, on a free port — never the machine's own server),
# builds sluice, runs `sluice run` against it in the background, writes
# sample rows, and shows them streaming out of the log with `sluice tail`.
# At exit (or Ctrl-C) it stops sluice and the server and removes the folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/sluice-quickstart.XXXXXX)
run_pid=""; tail_pid=""

cleanup() {
    for pid in $tail_pid $run_pid; do kill "$pid" 2>/dev/null || true; done
    for pid in $tail_pid $run_pid; do wait "$pid" 2>/dev/null || true; done
    "$root/tools/local-mariadb.sh" stop "$work/db" >/dev/null 2>&1 || true
    rm -rf "$work"
    echo "== stopped sluice and the private MariaDB; removed $work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# MariaDB and a C compiler if missing (apt-get); the list is tools/deps.sh.
# The package may start the system service; we use our own instance.
. "$root/tools/deps.sh"
sluice_deps_install quickstart

if [ -n "${SLUICE_BIN:-}" ]; then
    sluice=$SLUICE_BIN
else
    echo "== building sluice"
    (cd "$root" && cargo build --release --bin sluice -q)
    sluice=${CARGO_TARGET_DIR:-$root/target}/release/sluice
fi

echo "== starting a private MariaDB with binlog on"
url=$("$root/tools/local-mariadb.sh" start "$work/db")
sql() { mariadb --no-defaults --socket="$work/db/mysqld.sock" -uroot -e "$1"; }
sql "CREATE DATABASE shop;
     CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40), qty INT, placed DATETIME(3));"
echo "   $url"

echo "== sluice run --source $url --data $work/data --name shop --include 'shop\\..*'"
"$sluice" run --source "$url" --data "$work/data" --name shop --include 'shop\..*' \
    2>"$work/run.log" &
run_pid=$!
for _ in $(seq 1 100); do [ -d "$work/data/shop/log" ] && break; sleep 0.1; done
sleep 1

echo "== sluice tail --data $work/data --name shop   (Ctrl-C to stop early)"
"$sluice" tail --data "$work/data" --name shop &
tail_pid=$!

for i in 1 2 3; do
    sleep 1
    sql "INSERT INTO shop.orders VALUES ($i, 'widget-$i', $i, NOW(3))"
done
sleep 1
sql "BEGIN; UPDATE shop.orders SET qty = qty + 10 WHERE id = 1; DELETE FROM shop.orders WHERE id = 2; COMMIT;"
sleep 1
sql "ALTER TABLE shop.orders ADD COLUMN note VARCHAR(40)"
sql "INSERT INTO shop.orders VALUES (4, 'gadget', 1, NOW(3), 'after the ALTER')"
sleep 2
# The demo failed if sluice run is gone (its error is in run.log).
if ! kill -0 "$run_pid" 2>/dev/null; then
    echo "== sluice run exited early:" >&2
    cat "$work/run.log" >&2
    exit 1
fi
echo "== done: the rows above came from the binlog through sluice's log"
