#!/bin/bash
# The CI stand-in's entrypoint (see redis.Containerfile): as the official image's
# does, a `redis-server` started with arguments only (no config file) has protected
# mode turned off, since the container network is its only access control.
set -euo pipefail
if [ "${1:-}" = redis-server ]; then
    shift
    exec redis-server "$@" --protected-mode no
fi
exec "$@"
