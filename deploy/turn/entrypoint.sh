#!/bin/sh
# Start coturn with deploy/turn/turnserver.conf and the shared secret from the environment.
#
# The secret goes into a private copy of the config (mode 600), never onto the command
# line, where any local user could read it in `ps`. Options given to this script are
# passed on to turnserver (compose adds --prometheus and the privilege drop).
#
# Environment: TURN_SHARED_SECRET (required, the same value Django signs with),
# TURN_REALM (optional, e.g. the site's domain), TURN_EXTERNAL_IP (optional,
# `public-ip` or `public-ip/private-ip` when the host is behind 1:1 NAT),
# TURN_DENIED_PEER_IPS (optional, comma-separated: this host's own public addresses, which
# deploy/setup.sh finds; the relay then cannot reach services on them),
# TURN_CONFIG and TURN_RUNTIME_CONFIG (paths, for tests).
set -eu

config="${TURN_CONFIG:-/etc/coturn/turnserver.conf}"
runtime="${TURN_RUNTIME_CONFIG:-/tmp/turnserver.conf}"
secret="${TURN_SHARED_SECRET:-}"

if [ "${#secret}" -lt 32 ]; then
  echo "entrypoint: TURN_SHARED_SECRET is missing or shorter than 32 characters; run deploy/setup.sh" >&2
  exit 64
fi
case "$secret" in
  *[[:space:]#]*)
    echo "entrypoint: TURN_SHARED_SECRET must not contain spaces or '#' (coturn reads it from a config line)" >&2
    exit 64
    ;;
esac

denied=""
for address in $(printf '%s' "${TURN_DENIED_PEER_IPS:-}" | tr ',' ' '); do
  case "$address" in
    *[!0-9A-Fa-f.:-]*)
      echo "entrypoint: TURN_DENIED_PEER_IPS holds '$address', not an IP address or range" >&2
      exit 64
      ;;
  esac
  denied="${denied}denied-peer-ip=${address}
"
done

umask 077
{
  cat "$config"
  printf '\nstatic-auth-secret=%s\n' "$secret"
  printf '%s' "$denied"
} >"$runtime"
unset TURN_SHARED_SECRET secret

set -- -c "$runtime" "$@"
if [ -n "${TURN_REALM:-}" ]; then
  set -- "$@" "--realm=$TURN_REALM"
fi
if [ -n "${TURN_EXTERNAL_IP:-}" ]; then
  set -- "$@" "--external-ip=$TURN_EXTERNAL_IP"
fi
exec turnserver "$@"
