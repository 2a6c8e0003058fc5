#!/usr/bin/env bash
# Kafka client benchmark: the Swift client against kcat on the same broker, in one run.
# Extra arguments go to the benchmark (e.g. --records 200000 --rounds 5).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/private-broker.sh
PORT=${BENCH_BROKER_PORT:-39092}
start_private_broker "$PORT"
swift build -c release --product KafkaThroughput
mkdir -p Benchmarks/results
.build/release/KafkaThroughput --bootstrap "127.0.0.1:$PORT" --json Benchmarks/results/kafka-throughput.json "$@"
