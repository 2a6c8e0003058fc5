#!/usr/bin/env bash
# The smallest example: the seed's greeter end to end. Installs what is missing, starts a
# local broker and a worker, sends greeting requests to Kafka, prints the greetings that come
# back (each name counted exactly once per request), then stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/demo-worker.sh

start_demo_worker "${DEMO_BROKER_PORT:-29092}" --app greeter
names=(alice bob alice carol alice bob dave alice)
echo "== sending ${#names[@]} requests to topic greeter-requests (key = name, value = JSON)"
for name in "${names[@]}"; do
    printf '%s|{"name":"%s"}\n' "$name" "$name"
done | kcat -P -b "$DEMO_BROKER" -t greeter-requests -K '|' -X partitioner=murmur2_random

echo "== greetings read back from topic greetings"
timeout 60 kcat -C -b "$DEMO_BROKER" -t greetings -o beginning -c "${#names[@]}" -f '%k: %s   [%h]\n'
stop_demo_worker
