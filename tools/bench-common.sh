# Shared by the capture benchmarks (tools/bench-capture.sh,
# tools/bench-sysbench.sh): a private MariaDB, and the three ways to pull
# the same binlog, timed in the same run.
#
#   source "$root/tools/bench-common.sh"; bench_start; ...; compare FILE START
#
# SLUICE_BIN picks sluice's binary (built in release if missing); PEER_BIN
# the Rust peer's (built from ../shared/peers/rust-peer into
# PEER_TARGET, default /tmp/rust-peer-target, if missing: ../shared is
# read-only). BENCH_ROUNDS (3) rounds of each, alternating; best of each.

bench_start() {
    work=$(mktemp -d /tmp/sluice-bench.XXXXXX)
    bin=${SLUICE_BIN:-$root/target/release/sluice}
    [ -x "$bin" ] || (cd "$root" && cargo build --release --bin sluice)
    peer_dir=$(cd "$root/../shared/peers/rust-peer" && pwd)
    peer_target=${PEER_TARGET:-/tmp/rust-peer-target}
    peer_bin=${PEER_BIN:-$peer_target/release/rust-peer}
    [ -x "$peer_bin" ] || (cd "$peer_dir" && CARGO_TARGET_DIR="$peer_target" cargo build --release)
    trap bench_cleanup EXIT
    url=$("$root/tools/local-mariadb.sh" start "$work/db")
    port=$(cat "$work/db/port")
    client=(mariadb --no-defaults --socket="$work/db/mysqld.sock" -uroot)
}

bench_cleanup() {
    "$root/tools/local-mariadb.sh" stop "$work/db" >/dev/null 2>&1 || true
    rm -rf "$work"
}

# Seconds since $1 (a `date +%s.%N`).
since() { echo "$(date +%s.%N) - $1" | bc; }
min() { echo "if ($1 < $2) $1 else $2" | bc; }

# `mariadb-binlog --raw` pulling from file $1 to the server's end: the
# reference (network + server, no decoding).
raw_pull() {
    rm -rf "$work/raw" && mkdir -p "$work/raw"
    local s=$(date +%s.%N)
    mariadb-binlog --no-defaults --read-from-remote-server --raw --host=127.0.0.1 --port="$port" \
        --user=sluice --password=sluice-demo-pw --to-last-log --result-file="$work/raw/" "$1"
    since "$s"
}

# `sluice run` from start point $1 into a fresh log; peak RSS (KB) in
# $work/rss. Further arguments go to `sluice run`.
sluice_run() {
    local start=$1 && shift
    rm -rf "$work/data"
    local s=$(date +%s.%N)
    RUST_LOG=warn /usr/bin/time -f "%M" -o "$work/rss" "$bin" run --source "$url" --data "$work/data" \
        --server-id 99 --start "$start" --until current --fsync never "$@" 2>"$work/run.log" \
        || { cat "$work/run.log" >&2; exit 1; }
    since "$s"
}

# The Rust peer (mysql_async + mysql_common, every value decoded, nothing
# stored) from file $1 to the server's end.
peer_pull() {
    local s=$(date +%s.%N)
    "$peer_bin" "mysql://sluice:sluice-demo-pw@127.0.0.1:$port" "$1" >"$work/peer.out"
    since "$s"
}

# Rounds of the three over the binlog from file $1 (sluice starting at
# $2); prints each round, the best of each, the ratios and sluice's peak
# RSS. $3: row changes in that binlog, for rows/s. Leaves sluice's last
# log in $work/data and the best raw pull in $best_raw.
compare() {
    local first=$1 start=$2 rows=$3 bytes
    bytes=$("${client[@]}" -N -e "SHOW BINARY LOGS" | awk -v f="$first" '$1 >= f {s += $2} END {print s}')
    best_raw=999999; best_sluice=999999; best_peer=999999; rss=0
    local r s p m
    for round in $(seq 1 "${BENCH_ROUNDS:-3}"); do
        r=$(raw_pull "$first"); s=$(sluice_run "$start"); m=$(cat "$work/rss"); p=$(peer_pull "$first")
        echo "   round $round: raw pull ${r}s, sluice ${s}s (peak RSS $((m / 1024)) MB), rust peer ${p}s"
        best_raw=$(min "$r" "$best_raw"); best_sluice=$(min "$s" "$best_sluice"); best_peer=$(min "$p" "$best_peer")
        [ "$m" -gt "$rss" ] && rss=$m
    done
    local records
    records=$("$bin" tail --data "$work/data" --no-follow | wc -l)
    echo "== result: $((bytes / 1000000)) MB of binlog, $rows row changes, $records log records; best of ${BENCH_ROUNDS:-3}"
    printf '   mariadb-binlog --raw: %.2f s (%.0f MB/s)\n' "$best_raw" "$(echo "$bytes / 1000000 / $best_raw" | bc -l)"
    printf '   sluice run:           %.2f s (%.0f MB/s, %.0f rows/s)\n' "$best_sluice" \
        "$(echo "$bytes / 1000000 / $best_sluice" | bc -l)" "$(echo "$rows / $best_sluice" | bc -l)"
    printf '   rust peer:            %.2f s   (%s)\n' "$best_peer" "$(cat "$work/peer.out")"
    printf '   ratio sluice/raw:     %.2f (target <= 1.5)\n' "$(echo "$best_sluice / $best_raw" | bc -l)"
    printf '   ratio sluice/peer:    %.2f\n' "$(echo "$best_sluice / $best_peer" | bc -l)"
    echo "   sluice peak RSS:      $((rss / 1024)) MB (target < 150)"
}
