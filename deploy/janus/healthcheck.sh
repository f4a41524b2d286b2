#!/bin/bash
# Compose healthcheck of janus1/janus2: healthy while the WebSocket API accepts connections
# on this container's address (the app's client then checks `info` and the secret itself).
exec 3<>"/dev/tcp/$(hostname -i | cut -d ' ' -f 1)/${JANUS_WS_PORT:-8188}"
