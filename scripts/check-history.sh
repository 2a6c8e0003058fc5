#!/usr/bin/env bash
# Fails when development history creeps into the product: the README, docs/, the sources, the
# tests and the scripts describe the build they sit in; how it got there belongs in `git log`.
# Kafka's session.timeout.ms (and code names built on it) are not history.
set -euo pipefail
cd "$(dirname "$0")/.."

patterns=(
    '\bsessions?\b'
    'earlier builds?'
    'previous builds?'
    'older builds?'
    'before .{1,40} was added'
    'tried an[d] dropped'
)
allowed='session\.timeout|session-timeout|sessionTimeout|session timeout|group session'
paths=(README.md docs Sources Tests scripts Benchmarks docker docker-compose.yml Package.swift)

found=0
for pattern in "${patterns[@]}"; do
    hits=$(grep -rniE --exclude="$(basename "$0")" "$pattern" "${paths[@]}" 2>/dev/null | grep -viE "$allowed" || true)
    if [ -n "$hits" ]; then
        printf '%s\n' "$hits"
        found=1
    fi
done
if [ "$found" -ne 0 ]; then
    echo "check-history: development history found above; describe the product as it is (history goes in git log)" >&2
    exit 1
fi
echo "check-history: no development history in ${paths[*]}"
