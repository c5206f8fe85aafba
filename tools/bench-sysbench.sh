#!/usr/bin/env bash
# End-to-end capture benchmark on small OLTP transactions: the real
# `sysbench oltp_write_only` (Debian's sysbench) writes into a private
# MariaDB, then sluice, the raw binlog pull and the Rust peer read what
# it wrote (tools/bench-common.sh), in the same run.
#
#   tools/bench-sysbench.sh
#   SYSBENCH_EVENTS=20000 tools/bench-sysbench.sh     # a quicker run
#
# 1. Starts a private MariaDB (tools/local-mariadb.sh) in a temporary folder.
# 2. `sysbench oltp_write_only prepare` (SYSBENCH_TABLES=4 tables of
#    SYSBENCH_TABLE_SIZE=100000 rows), FLUSH BINARY LOGS, then `run` with
#    SYSBENCH_THREADS=4 threads for SYSBENCH_EVENTS=84000 transactions
#    (each: an indexed UPDATE, a non-indexed UPDATE, a DELETE and an
#    INSERT), FLUSH BINARY LOGS. Only the run's binlog files are read.
# 3. BENCH_ROUNDS (3) rounds each, alternating: `mariadb-binlog
#    --read-from-remote-server --raw`, `sluice run --until current --fsync
#    never` into a fresh log, and the Rust peer; prints the best of each,
#    sluice's ratios to the raw pull and to the peer, and its peak RSS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tables=${SYSBENCH_TABLES:-4}
table_size=${SYSBENCH_TABLE_SIZE:-100000}
events=${SYSBENCH_EVENTS:-84000}
threads=${SYSBENCH_THREADS:-4}
source "$root/tools/bench-common.sh"
bench_start

# Durability of the writes is not what is measured: one log flush per
# second instead of per commit lets the writers finish sooner, and does
# not change what the binlog holds.
"${client[@]}" -e "SET GLOBAL innodb_flush_log_at_trx_commit = 2; CREATE DATABASE sbtest"
sb=(sysbench oltp_write_only --db-driver=mysql --mysql-socket="$work/db/mysqld.sock" --mysql-user=root
    --mysql-db=sbtest --tables="$tables" --table-size="$table_size")
echo "== sysbench oltp_write_only: $tables tables x $table_size rows, then $events transactions on $threads threads"
"${sb[@]}" prepare >"$work/prepare.log"
"${client[@]}" -e "FLUSH BINARY LOGS"
first=$("${client[@]}" -N -e "SHOW BINARY LOGS" | tail -1 | cut -f1)
started=$(date +%s.%N)
"${sb[@]}" --threads="$threads" --events="$events" --time=0 --report-interval=0 run >"$work/run-sb.log"
echo "   written in $(since "$started") s ($(grep -E 'transactions:' "$work/run-sb.log" | xargs))"
"${client[@]}" -e "FLUSH BINARY LOGS"
# Row changes: per transaction two updates, a delete and an insert.
compare "$first" "$first:4" $((events * 4))
