#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: against the Compose Specification's
# JSON schema (the copy inside docker-compose 1.29.2's wheel on PyPI), plus the references
# between services, the files the builds and bind mounts need, and the Grafana dashboards:
# every metric they query is one the engine exports. Installs its tools on first use.
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
if ! command -v promtool >/dev/null; then
    echo "[check-compose] installing promtool (Debian's prometheus package)"
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
    $sudo_ apt-get update -qq
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
queries=$(mktemp)
trap 'rm -f "$queries"' EXIT
PYTHONPATH="$TOOLS/py" python3 - "$TOOLS/compose_spec.json" docker-compose.yml "$queries" <<'PY'
import glob, json, os, re, sys
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
    # Read-only bind mounts are inputs from the repository; the others are made at run time.
    for volume in service.get("volumes", []):
        parts = volume.split(":") if isinstance(volume, str) else [volume.get("source", ""), "", "ro" if volume.get("read_only") else ""]
        if parts[0].startswith("./") and parts[-1] == "ro" and not os.path.exists(parts[0]):
            errors.append(f"services/{name}/volumes: no file {parts[0]}")
# The metric names the engine and the driver make (swift-metrics labels); a query's histogram
# series end in _bucket, _sum or _count.
exported = set()
for path in glob.glob("Sources/**/*.swift", recursive=True):
    exported |= set(re.findall(r'"((?:statefun|ycsb)_[a-z_]+)"', open(path).read()))
for path in glob.glob("docker/grafana/dashboards/*.json"):
    for panel in json.load(open(path))["panels"]:
        for target in panel.get("targets", []):
            for metric in re.findall(r"(?:statefun|ycsb)_[a-z_]+", target["expr"]):
                if re.sub(r"_(bucket|sum|count)$", "", metric) not in exported and metric not in exported:
                    errors.append(f"{path}: panel '{panel['title']}' queries {metric}, which nothing exports")
for path in glob.glob("docker/**/*.yml", recursive=True):
    yaml.safe_load(open(path))
# Every dashboard query as a recording rule, for promtool to check its PromQL.
queries = [target["expr"] for path in glob.glob("docker/grafana/dashboards/*.json")
           for panel in json.load(open(path))["panels"] for target in panel.get("targets", [])]
rules = [{"record": f"dashboard_query_{index}", "expr": query} for index, query in enumerate(queries)]
with open(sys.argv[3], "w") as out:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, out)
for error in errors:
    print(f"[check-compose] {sys.argv[2]}: {error}")
if errors:
    sys.exit(1)
print(f"[check-compose] {sys.argv[2]}: services {', '.join(services)}; {len(queries)} dashboard queries")
PY
if ! promtool check rules "$queries" >/dev/null 2>&1; then
    promtool check rules "$queries"
    echo "[check-compose] a dashboard query is not valid PromQL"
    exit 1
fi
echo "[check-compose] docker-compose.yml is valid, and so are the dashboard's queries"
