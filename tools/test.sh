#!/usr/bin/env bash
# The test suite, one command on a Debian machine with Rust: installs what
# is missing (tools/deps.sh: MariaDB, nats-server, Chromium, the C toolchain
# for librdkafka, Canal's Python client in a venv), then runs every crate's
# tests against private servers the tests start themselves (Kafka through
# librdkafka's in-process mock cluster, built with the `kafka` feature).
# Arguments go to `cargo test` (e.g. `./tools/test.sh --test http_live`).
#
# A test that skips (a server or tool missing outside CI) appends its name
# to $SLUICE_SKIP_LOG; the run ends with one `skipped: N (names)` line.
# Under CI=true a missing part fails its test instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
if [ -z "${SLUICE_NO_INSTALL:-}" ]; then
    sluice_deps_install test
    sluice_canal_venv
fi

# Incremental state is useless on a one-shot run and doubles the disk used.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
SLUICE_SKIP_LOG=$(mktemp "${TMPDIR:-/tmp}/sluice-skipped.XXXXXX")
export SLUICE_SKIP_LOG
trap 'rm -f "$SLUICE_SKIP_LOG"' EXIT

status=0
cargo test --workspace --features kafka --no-fail-fast "$@" || status=$?

# One line per skip, "NAME<tab>reason"; a test may skip twice.
names=$(cut -f1 "$SLUICE_SKIP_LOG" | sort -u)
count=$(grep -c . <<<"$names" || true)
if [ "$count" -gt 0 ]; then
    echo "skipped: $count ($(paste -sd, - <<<"$names" | sed 's/,/, /g'))"
    cut -f2- "$SLUICE_SKIP_LOG" | sort -u | sed 's/^/  because: /'
else
    echo "skipped: 0"
fi
exit $status
