#!/bin/sh
# Compose entrypoint of the janus1/janus2 services: render the hardened configuration from
# the environment (render.sh checks every value) into a private folder on a tmpfs (/tmp),
# then run Janus.
#
# The WebSocket API binds to this container's own address on the compose network (never
# 0.0.0.0, which render.sh refuses), and admits only clients from that network's /16 (where
# Docker puts the web and worker containers); both can be set instead with JANUS_WS_IP and
# JANUS_WS_ACL. Nothing publishes its port: only the RTP range is published (docs/deploy.md).
set -eu

address=$(hostname -i | cut -d ' ' -f 1)
JANUS_WS_IP=${JANUS_WS_IP:-$address}
JANUS_WS_ACL=${JANUS_WS_ACL:-$(echo "$address" | cut -d . -f 1-2).}
export JANUS_WS_IP JANUS_WS_ACL

config=${JANUS_CONFIG_DIR:-/tmp/janus-config}
"$(dirname "$0")/render.sh" "$config"
exec janus -C "$config/janus.jcfg" -F "$config"
