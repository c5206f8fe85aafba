#!/usr/bin/env bash
# End-to-end capture benchmark, bulk workload: sluice against the raw
# binlog pull and the Rust peer (tools/bench-sysbench.sh does the same on
# a real sysbench binlog of small transactions).
#
#   tools/bench-capture.sh            # ~200 MB of binlog
#   BENCH_TXNS=20000 tools/bench-capture.sh
#
# 1. Starts a private MariaDB (tools/local-mariadb.sh) in a temporary folder.
# 2. Writes a sysbench-style workload with the SQL client (the SEQUENCE
#    engine bulk-loads the sbtest tables; then oltp_write_only
#    transactions: two UPDATEs, one DELETE, one INSERT each).
# 3. Times, in the same run and BENCH_ROUNDS (3) times each, alternating
#    (tools/bench-common.sh):
#    - `mariadb-binlog --read-from-remote-server --raw` pulling every binlog
#      file (the reference: network + server, no decoding);
#    - `sluice run --start earliest --until current --fsync never` capturing
#      the same binlog into a fresh log (dump, decode, encode, append);
#    - the Rust peer (../shared/peers/rust-peer: mysql_async's stream and
#      mysql_common's row decoding, nothing stored).
# 4. Prints the best time of each, the ratios, rows/s and sluice's peak RSS.
# 5. For each log compression in BENCH_COMPRESSION (default
#    "none zstd:1 zstd:3"): the best ingest time (same run as the raw
#    pull), the log's bytes on disk per binlog byte, and the best replay
#    time (`sluice tail --no-follow --format json` of the whole log to
#    /dev/null: read, decompress, decode, render).
#
# The release binaries are built if missing. Everything is removed at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tables=${BENCH_TABLES:-4}
rows=${BENCH_ROWS:-100000}
txns=${BENCH_TXNS:-60000}
source "$root/tools/bench-common.sh"
bench_start

echo "== workload: $tables tables x $rows rows, then $txns write transactions"
"${client[@]}" -e "CREATE DATABASE sbtest"
for t in $(seq 1 "$tables"); do
    "${client[@]}" sbtest -e "
        CREATE TABLE sbtest$t (id INT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0,
            c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_$t (k));
        INSERT INTO sbtest$t SELECT seq, FLOOR(RAND() * $rows),
            LEFT(CONCAT_WS('-', MD5(seq), MD5(seq + 1), MD5(seq + 2), MD5(seq + 3)), 119), LEFT(CONCAT(MD5(seq), SHA1(seq)), 59)
            FROM seq_1_to_$rows;"
done
python3 - "$tables" "$rows" "$txns" >"$work/oltp.sql" <<'EOF'
import random, sys
tables, rows, txns = map(int, sys.argv[1:])
rnd = random.Random(42)
def s(n): return ''.join(rnd.choice('0123456789abcdef-') for _ in range(n))
out = sys.stdout
for i in range(txns):
    t = rnd.randint(1, tables)
    a, b, d = (rnd.randint(1, rows) for _ in range(3))
    out.write(f"BEGIN;UPDATE sbtest{t} SET k=k+1 WHERE id={a};"
              f"UPDATE sbtest{t} SET c='{s(119)}' WHERE id={b};"
              f"DELETE FROM sbtest{t} WHERE id={d};"
              f"INSERT INTO sbtest{t} (id,k,c,pad) VALUES ({d},{rnd.randint(1, rows)},'{s(119)}','{s(59)}');COMMIT;\n")
EOF
started=$(date +%s.%N)
"${client[@]}" sbtest <"$work/oltp.sql"
echo "   written in $(since "$started") s"
"${client[@]}" -e "FLUSH BINARY LOGS"
binlog_bytes=$("${client[@]}" -N -e "SHOW BINARY LOGS" | awk '{s += $2} END {print s}')
first=$("${client[@]}" -N -e "SHOW BINARY LOGS" | head -1 | cut -f1)
# Row images: bulk rows, plus per transaction 2 updates, 1 delete, 1 insert.
total_rows=$((tables * rows + txns * 4))
echo "   binlog: $((binlog_bytes / 1000000)) MB in $("${client[@]}" -N -e "SHOW BINARY LOGS" | wc -l) files, $total_rows row changes"

compare "$first" earliest "$total_rows"

echo "== log compression (ingest best of ${BENCH_ROUNDS:-3}, raw pull ${best_raw} s)"
printf '   %-8s %9s %7s %12s %10s\n' setting ingest ratio bytes/binlog replay
for c in ${BENCH_COMPRESSION:-none zstd:1 zstd:3}; do
    best_in=999999; best_out=999999
    for round in $(seq 1 "${BENCH_ROUNDS:-3}"); do
        i=$(sluice_run earliest --compression "$c")
        s=$(date +%s.%N)
        "$bin" tail --data "$work/data" --name main --no-follow --format json >/dev/null
        o=$(since "$s")
        best_in=$(min "$i" "$best_in")
        best_out=$(min "$o" "$best_out")
    done
    log_bytes=$(du -sB1 "$work/data/main/log" | cut -f1)  # allocated, not the sparse length
    printf '   %-8s %8.2fs %7.2f %12.3f %9.2fs\n' "$c" "$best_in" "$(echo "$best_in / $best_raw" | bc -l)" \
        "$(echo "$log_bytes / $binlog_bytes" | bc -l)" "$best_out"
done
