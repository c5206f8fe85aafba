#!/usr/bin/env bash
# The test suite: every crate, every test, against private servers that the
# tests start themselves (MariaDB, nats-server; Kafka through librdkafka's
# in-process mock cluster, built with the `kafka` feature). Install them
# first with
#   apt-get install -y mariadb-server mariadb-client nats-server
set -euo pipefail
cd "$(dirname "$0")/.."
# Incremental state is useless on a one-shot run and doubles the disk used.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
exec cargo test --workspace --features kafka --no-fail-fast "$@"
