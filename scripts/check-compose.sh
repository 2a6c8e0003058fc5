#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: against the Compose Specification's
# JSON schema (the copy inside docker-compose 1.29.2's wheel on PyPI), plus the references
# between services and the files the builds need. Installs its tools on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=/opt/statefun-tools/compose-check
if [ ! -f "$TOOLS/compose_spec.json" ]; then
    echo "[check-compose] installing PyYAML, jsonschema and the Compose Specification schema into $TOOLS"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    export PIP_ROOT_USER_ACTION=ignore
    python3 -m pip install -q --disable-pip-version-check --target "$work/py" pyyaml jsonschema
    python3 -m pip download -q --disable-pip-version-check --no-deps docker-compose==1.29.2 -d "$work"
    python3 -c "import sys, zipfile; open(sys.argv[2], 'wb').write(zipfile.ZipFile(sys.argv[1]).read('compose/config/compose_spec.json'))" \
        "$work"/docker_compose-1.29.2-*.whl "$work/compose_spec.json"
    mkdir -p "$TOOLS"
    rm -rf "$TOOLS/py"
    mv "$work/py" "$work/compose_spec.json" "$TOOLS/"
fi
PYTHONPATH="$TOOLS/py" python3 - "$TOOLS/compose_spec.json" docker-compose.yml <<'PY'
import json, os, sys
import jsonschema, yaml

schema = json.load(open(sys.argv[1]))
compose = yaml.safe_load(open(sys.argv[2]))
errors = [f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(compose)]
services = compose.get("services", {})
for name, service in services.items():
    for dependency in service.get("depends_on", {}):
        if dependency not in services:
            errors.append(f"services/{name}/depends_on: no service {dependency}")
    build = service.get("build")
    if isinstance(build, dict):
        dockerfile = os.path.join(build.get("context", "."), build.get("dockerfile", "Dockerfile"))
        if not os.path.isfile(dockerfile):
            errors.append(f"services/{name}/build: no file {dockerfile}")
for error in errors:
    print(f"[check-compose] {sys.argv[2]}: {error}")
if errors:
    sys.exit(1)
print(f"[check-compose] {sys.argv[2]} is valid: services {', '.join(services)}")
PY
