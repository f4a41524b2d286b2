#!/bin/sh
# The web process, as the Procfile, the Dockerfile, `make run` and the benchmark start it.
#   HOST (0.0.0.0) and PORT (8000) say where to listen; extra arguments go to daphne.
#   BEHIND_PROXY=1 (only behind nginx): daphne takes the client address from X-Forwarded-For
#   (--proxy-headers); without a proxy a client could claim any address and dodge per-address limits.
# backlog: Twisted listens with a queue of 50 by default; when thousands of browsers reconnect at
# once (a restart), the kernel drops the SYNs beyond it and they retry 1, 3, 7... seconds later.
# --websocket_connect_timeout: how long daphne waits for the app to accept a WebSocket handshake.
# --websocket-max-message-size: frames above 128 KiB are refused by daphne before they are buffered.
case "${BEHIND_PROXY:-0}" in
    1 | true | yes | on) set -- --proxy-headers "$@" ;;
esac
exec "${DAPHNE:-daphne}" \
    -e "tcp:port=${PORT:-8000}:interface=${HOST:-0.0.0.0}:backlog=${LISTEN_BACKLOG:-4096}" \
    --websocket-max-message-size 131072 --websocket_connect_timeout 30 \
    "$@" audioexchange.asgi:application
