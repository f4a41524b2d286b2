#!/bin/sh
# The web process, as the Procfile, the Dockerfile, `make run` and the benchmark start it.
#   HOST (0.0.0.0) and PORT (8000) say where to listen; extra arguments go to daphne (--proxy-headers).
# backlog: Twisted listens with a queue of 50 by default; when thousands of browsers reconnect at
# once (a restart), the kernel drops the SYNs beyond it and they retry 1, 3, 7... seconds later.
# --websocket_connect_timeout: how long daphne waits for the app to accept a WebSocket handshake.
# --websocket-max-message-size: frames above 128 KiB are refused by daphne before they are buffered.
exec "${DAPHNE:-daphne}" \
    -e "tcp:port=${PORT:-8000}:interface=${HOST:-0.0.0.0}:backlog=${LISTEN_BACKLOG:-4096}" \
    --websocket-max-message-size 131072 --websocket_connect_timeout 30 \
    "$@" audioexchange.asgi:application
