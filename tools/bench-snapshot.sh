#!/usr/bin/env bash
# Snapshot benchmark: sluice's initial snapshot against mysqldump.
#
#   tools/bench-snapshot.sh                  # 2 tables x 1M rows
#   BENCH_ROWS=200000 tools/bench-snapshot.sh
#
# 1. Starts a private MariaDB (tools/local-mariadb.sh) in a temporary folder.
# 2. `sysbench oltp_read_only prepare`: BENCH_TABLES (2) sbtest tables of
#    BENCH_ROWS (1,000,000) rows.
# 3. Times, in the same run and BENCH_ROUNDS (3) times each, alternating:
#    - `mysqldump --single-transaction --quick` of those tables to /dev/null
#      (the reference: a consistent read of every row, rendered as SQL);
#    - `sluice run --snapshot initial --until current --fsync never` into a
#      fresh log (chunked reads by key, watermarks, typed values, encoded,
#      appended).
# 4. Prints the best time of each, the ratio, rows/s and sluice's peak RSS.
#
# SLUICE_BIN picks the binary (default target/release/sluice, built if
# missing). Everything is removed at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tables=${BENCH_TABLES:-2}
rows=${BENCH_ROWS:-1000000}
# Shared helpers (bench_cleanup, since, min, sluice_run); not bench_start,
# which also builds the capture benchmarks' peer.
source "$root/tools/bench-common.sh"
work=$(mktemp -d /tmp/sluice-bench-snapshot.XXXXXX)
bin=${SLUICE_BIN:-$root/target/release/sluice}
[ -x "$bin" ] || (cd "$root" && cargo build --release --bin sluice)
trap bench_cleanup EXIT
url=$("$root/tools/local-mariadb.sh" start "$work/db")
client=(mariadb --no-defaults --socket="$work/db/mysqld.sock" -uroot)

echo "== sysbench oltp_read_only prepare: $tables tables x $rows rows"
"${client[@]}" -e "CREATE DATABASE sbtest"
sysbench oltp_read_only --db-driver=mysql --mysql-socket="$work/db/mysqld.sock" --mysql-user=root \
    --mysql-db=sbtest --tables="$tables" --table-size="$rows" prepare >"$work/prepare.log"
total_rows=$((tables * rows))
list=$(seq -f "sbtest%g" 1 "$tables" | tr '\n' ' ')

dump() {
    local s=$(date +%s.%N)
    mysqldump --no-defaults --socket="$work/db/mysqld.sock" -uroot --single-transaction --quick \
        sbtest $list >/dev/null
    since "$s"
}

best_dump=999999; best_sluice=999999; rss=0
for round in $(seq 1 "${BENCH_ROUNDS:-3}"); do
    d=$(dump)
    s=$(sluice_run current --include 'sbtest\..*' --snapshot initial)
    m=$(cat "$work/rss")
    echo "   round $round: mysqldump ${d}s, sluice ${s}s, sluice peak RSS $((m / 1024)) MB"
    best_dump=$(min "$d" "$best_dump")
    best_sluice=$(min "$s" "$best_sluice")
    [ "$m" -gt "$rss" ] && rss=$m
done
reads=$("$bin" tail --data "$work/data" --no-follow --format debezium-json | grep -c '"op":"r"' || true)
echo "== result ($total_rows rows; $reads snapshot reads in the last log)"
printf '   mysqldump --single-transaction --quick: %.2f s (%.0f rows/s)\n' "$best_dump" "$(echo "$total_rows / $best_dump" | bc -l)"
printf '   sluice --snapshot initial:              %.2f s (%.0f rows/s)\n' "$best_sluice" "$(echo "$total_rows / $best_sluice" | bc -l)"
printf '   ratio sluice/mysqldump:                 %.2f (target <= 1.5)\n' "$(echo "$best_sluice / $best_dump" | bc -l)"
echo "   sluice peak RSS:                        $((rss / 1024)) MB"
