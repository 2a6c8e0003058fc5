#!/usr/bin/env bash
# The main job: YCSB-T on the engine. Installs what is missing, starts a local broker and a
# worker of the ycsb application, loads 10,000 accounts, runs 30 seconds of 50% transfers
# (2PC) with live progress, prints the summary and the checks, then stops everything it
# started. Options after the script name go to the driver (e.g. --protocol saga --rate 500).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/demo-worker.sh

start_demo_worker "${DEMO_BROKER_PORT:-29092}" --app ycsb
swift build -c release --product ycsb-driver
.build/release/ycsb-driver --bootstrap "$DEMO_BROKER" --records 10000 --read 25 --update 25 --transfer 50 --protocol 2pc \
    --rate 1000 --seconds 30 --output ycsb-results "$@"
stop_demo_worker
