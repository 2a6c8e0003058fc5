#!/usr/bin/env bash
# How long the engine takes to process every partition again after a worker is killed with
# SIGKILL, under YCSB-T traffic (release builds, a fresh broker). A worker is killed every
# INTERVAL seconds whether or not the last kill's recovery finished. Prints one line per kill,
# a summary with the median and the maximum, and the driver's statuses and checks.
#
#   ./scripts/recovery-experiment.sh                # 2 workers, 5 kills 8 s apart, each replaced at once
#   REPLACE=0 WORKERS=3 KILLS=2 ./scripts/recovery-experiment.sh   # the survivors take over
#   PROTOCOL=saga ./scripts/recovery-experiment.sh
#
# Recovered means: every key partition logged `partition recovered` again since the kill (as
# the fault suite's kill test counts it); a kill not recovered when the next one comes counts
# as INTERVAL. KILLS (5), INTERVAL (8), WORKERS (2), REPLACE (1), PARTITIONS (4), PROTOCOL
# (2pc), RATE (200 req/s: 25% reads, 25% updates, 50% transfers over 1,000 accounts) and
# WORKER_ARGS (more worker options) adjust the run. Logs go to Benchmarks/results/recovery/.
set -euo pipefail
cd "$(dirname "$0")/.."

KILLS=${KILLS:-5}
INTERVAL=${INTERVAL:-8}
PROTOCOL=${PROTOCOL:-2pc}
WORKERS=${WORKERS:-2}
REPLACE=${REPLACE:-1}
PARTITIONS=${PARTITIONS:-4}
RATE=${RATE:-200}
PORT=${EXPERIMENT_BROKER_PORT:-39092}
BROKER=127.0.0.1:$PORT
RESULTS=Benchmarks/results/recovery
if [ "$REPLACE" = 0 ] && [ "$KILLS" -ge "$WORKERS" ]; then
    echo "without replacements, KILLS must be below WORKERS" >&2
    exit 2
fi
./scripts/bootstrap.sh >/dev/null
for product in statefun-worker ycsb-driver; do swift build -c release --product "$product" >/dev/null; done
rm -rf "$RESULTS" && mkdir -p "$RESULTS"

PIDS=()
ALIVE=()
started=0
cleanup() {
    kill -TERM "${PIDS[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    ./scripts/broker.sh stop --port "$PORT" >/dev/null
}
trap cleanup EXIT
./scripts/broker.sh start --port "$PORT" >/dev/null

# start_worker: one more worker; its index in PIDS is $started - 1.
start_worker() {
    # shellcheck disable=SC2086 # WORKER_ARGS holds several arguments
    .build/release/statefun-worker --app ycsb --bootstrap "$BROKER" --partitions "$PARTITIONS" ${WORKER_ARGS:-} \
        >"$RESULTS/worker$started.log" 2>&1 &
    PIDS+=($!)
    started=$((started + 1))
}
recovered() { cat "$RESULTS"/worker*.log | grep -c "partition recovered" || true; }
now() { date +%s.%N; }

for _ in $(seq 1 "$WORKERS"); do
    ALIVE+=("$started")
    start_worker
done
for _ in $(seq 1 600); do [ "$(recovered)" -ge "$PARTITIONS" ] && break; sleep 0.1; done
.build/release/ycsb-driver --bootstrap "$BROKER" --output "$RESULTS/driver" --records 1000 --rate "$RATE" \
    --seconds $((KILLS * INTERVAL + 10)) --transfer 50 --read 25 --update 25 --protocol "$PROTOCOL" >"$RESULTS/driver.log" 2>&1 &
DRIVER=$!
for _ in $(seq 1 1200); do grep -q "run:" "$RESULTS/driver.log" && break; sleep 0.1; done

times=()
sleep 4
for kill in $(seq 1 "$KILLS"); do
    before=$(recovered)
    slot=$((RANDOM % ${#ALIVE[@]}))
    killed_at=$(now)
    victim=${PIDS[${ALIVE[$slot]}]}
    # Reaped here, so that the shell does not report it.
    { kill -KILL "$victim" && wait "$victim"; } 2>/dev/null || true
    if [ "$REPLACE" = 1 ]; then
        ALIVE[slot]=$started
        start_worker
    else
        unset "ALIVE[$slot]"
        ALIVE=("${ALIVE[@]}")
    fi
    next_kill=$(echo "$killed_at + $INTERVAL" | bc)
    seconds=$INTERVAL
    while [ "$(echo "$(now) < $next_kill" | bc)" = 1 ]; do
        if [ $(($(recovered) - before)) -ge "$PARTITIONS" ]; then
            seconds=$(echo "$(now) - $killed_at" | bc)
            break
        fi
        sleep 0.05
    done
    times+=("$seconds")
    printf "kill %d: every partition processing again after %.2f s\n" "$kill" "$seconds"
    while [ "$(echo "$(now) < $next_kill" | bc)" = 1 ]; do sleep 0.1; done
done
wait "$DRIVER" || true
sorted=$(printf "%s\n" "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }')
printf "recovery over %d kills %d s apart (%s, %d workers, %s): median %.2f s, max %.2f s\n" "$KILLS" "$INTERVAL" "$PROTOCOL" "$WORKERS" \
    "$([ "$REPLACE" = 1 ] && echo "each replaced at once" || echo "not replaced")" "$median" "$(echo "$sorted" | tail -1)"
grep -E "statuses|answered exactly|sum of|below zero" "$RESULTS/driver.log" || true
