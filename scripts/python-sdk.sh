#!/usr/bin/env bash
# Makes a Python virtual environment with Apache Flink StateFun's official Python SDK from PyPI,
# for the remote-function tests and examples: .build/statefun-python (override with
# STATEFUN_PYTHON_ENV). Idempotent; prints the environment's python.
set -euo pipefail
cd "$(dirname "$0")/.."

SDK_VERSION=3.3.0
ENV_DIR=${STATEFUN_PYTHON_ENV:-.build/statefun-python}
log() { printf '[python-sdk] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! "$ENV_DIR/bin/python" -c "import statefun" 2>/dev/null; then
    if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
        log "installing python3-venv"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    log "installing apache-flink-statefun $SDK_VERSION into $ENV_DIR"
    rm -rf "$ENV_DIR"
    mkdir -p "$(dirname "$ENV_DIR")"
    python3 -m venv "$ENV_DIR"
    "$ENV_DIR/bin/pip" install -q --disable-pip-version-check "apache-flink-statefun==$SDK_VERSION"
fi
echo "$ENV_DIR/bin/python"
