#!/usr/bin/env bash
# Makes podman able to build and run deploy/Dockerfile and deploy/compose.yaml on a
# machine that reaches no container registry (../shared/STACK.md, "Containers
# without a registry"): installs podman, runc and debootstrap from Debian's
# packages, and builds locally, under the official names the deploy files use, the
# images they start FROM or run. podman resolves a short name such as
# `debian:bookworm-slim` to a local `localhost/` image before any registry, so the
# deploy files stay exactly what users run elsewhere:
#   debian:bookworm-slim   debootstrap of Debian's minimal base
#   rust:1.95-slim-bookworm  that base plus the host's Rust toolchain and trust store
#   postgres:15-bookworm, redis:7-bookworm   stand-ins from Debian's packages with
#                          the official images' interface (.ci/images/)
# An image already present is kept. Idempotent; run by .ci/run before
# `cargo xtask deploy-check`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[containers] $*"; }

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
    log "installing podman, runc and debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi

# Root here cannot raise rlimits past these, and crun refuses this machine's hybrid
# cgroup layout: runc it is.
conf=/etc/containers/containers.conf
if ! grep -q '^runtime = "runc"' "$conf" 2>/dev/null; then
    log "configuring podman ($conf)"
    mkdir -p /etc/containers
    cat > "$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
CONF
fi

have() { podman image exists "$1"; }

if ! have localhost/debian:bookworm-slim; then
    # The Debian mirror apt already uses on this machine.
    mirror="$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1)"
    if [ -z "$mirror" ]; then
        mirror="$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) bookworm .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)"
    fi
    [ -n "$mirror" ] || { log "no Debian mirror found in apt's sources"; exit 1; }
    log "building debian:bookworm-slim with debootstrap"
    rootfs="$(mktemp -d)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import -q - localhost/debian:bookworm-slim >/dev/null
    rm -rf "$rootfs"
fi

rust_version="$(rustc --version | sed -n 's/^rustc \([0-9]*\.[0-9]*\).*/\1/p')"
if ! have "localhost/rust:${rust_version}-slim-bookworm"; then
    log "building rust:${rust_version}-slim-bookworm from the host toolchain"
    context="$(mktemp -d)"
    sysroot="$(rustc --print sysroot)"
    mkdir -p "$context/toolchain/bin"
    cp "$sysroot"/bin/{cargo,rustc,rustdoc} "$context/toolchain/bin/"
    cp -a "$sysroot/lib" "$context/toolchain/"
    cp /etc/ssl/certs/ca-certificates.crt "$context/host-ca-certificates.crt"
    cp .ci/images/rust.Containerfile "$context/Containerfile"
    podman build -q --pull=never -t "localhost/rust:${rust_version}-slim-bookworm" "$context" >/dev/null
    rm -rf "$context"
fi

if ! have localhost/postgres:15-bookworm; then
    log "building the postgres:15-bookworm stand-in"
    podman build -q --pull=never -f .ci/images/postgres.Containerfile \
        -t localhost/postgres:15-bookworm .ci/images >/dev/null
fi
if ! have localhost/redis:7-bookworm; then
    log "building the redis:7-bookworm stand-in"
    podman build -q --pull=never -f .ci/images/redis.Containerfile \
        -t localhost/redis:7-bookworm .ci/images >/dev/null
fi
log "images ready"
