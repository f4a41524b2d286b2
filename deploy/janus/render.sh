#!/bin/sh
# Render deploy/janus's configuration templates into OUT_DIR, for
#   janus -C OUT_DIR/janus.jcfg -F OUT_DIR
# Janus's .jcfg files cannot read the environment, so the secrets and ports are written in
# here: the files are mode 600 in a mode 700 directory, and every value is checked against
# a strict character set first (a quote or newline in a value would change the config).
# The tests (sfu/tests) render the shipped templates with this same script.
#
# Usage: deploy/janus/render.sh OUT_DIR
#
# Environment (required):
#   JANUS_API_SECRET     every Janus API request must carry it (the app's JANUS_API_SECRET)
#   JANUS_ADMIN_KEY      the VideoRoom admin_key: creating rooms, RTP forwarding
#   JANUS_ADMIN_SECRET   the Admin API's secret (its transports are off; never Debian's default)
#   each 32 to 128 characters of A-Z a-z 0-9 _ - (deploy/setup.sh: openssl rand -hex 32)
# Environment (optional, default):
#   JANUS_WS_IP            address the WebSocket API binds to (127.0.0.1); loopback or private
#   JANUS_WS_PORT          its port (8188)
#   JANUS_WS_ACL           comma-separated client address prefixes allowed in (127.)
#   JANUS_RTP_PORT_RANGE   UDP ports for media, MIN-MAX (20000-40000)
#   JANUS_NAT_1_1_MAPPING  this host's public IP(s) when behind a 1:1 NAT (empty: none)
#   JANUS_SESSION_TIMEOUT  seconds a session lives without a request (60)
#   JANUS_SERVER_NAME      the name "info" reports (audioexchange-janus)
#   JANUS_DEBUG_LEVEL      0-7 (4)
#   JANUS_LIB_DIR          Janus's library folder (found under /usr/lib/*/janus, /usr/lib/janus,
#                          /opt/janus/lib/janus)
set -eu

die() {
  echo "render.sh: $*" >&2
  exit 64
}

[ $# -eq 1 ] || die "usage: render.sh OUT_DIR"
templates=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
chmod 700 "$1"
out=$(cd "$1" && pwd)

# $1 = name, $2 = value, $3 = the characters it may hold (a case pattern's bracket body).
check_chars() {
  [ -n "$2" ] || die "$1 is empty"
  case "$2" in
    *[!$3]*) die "$1 may only contain the characters [$3]" ;;
  esac
}

check_secret() {
  value=$(eval "printf '%s' \"\${$1:-}\"")
  [ -n "$value" ] || die "$1 is not set: generate one with \`openssl rand -hex 32\`"
  check_chars "$1" "$value" "A-Za-z0-9_-"
  [ "${#value}" -ge 32 ] && [ "${#value}" -le 128 ] || die "$1 must be 32 to 128 characters long"
}

check_number() {
  check_chars "$1" "$2" "0-9"
  [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || die "$1=$2 must be between $3 and $4"
}

find_lib_dir() {
  for candidate in /usr/lib/*/janus /usr/lib/janus /opt/janus/lib/janus; do
    if [ -d "$candidate/plugins" ]; then
      echo "$candidate"
      return
    fi
  done
  die "no Janus library folder found: install Debian's janus or set JANUS_LIB_DIR"
}

# The .so files in folder $1 other than $2, comma-separated (Janus's `disable` list).
others_in() {
  for library in "$1"/*.so; do
    [ -e "$library" ] || continue
    name=$(basename "$library")
    [ "$name" = "$2" ] || printf '%s,' "$name"
  done | sed 's/,$//'
}

check_secret JANUS_API_SECRET
check_secret JANUS_ADMIN_KEY
check_secret JANUS_ADMIN_SECRET
ws_ip=${JANUS_WS_IP:-127.0.0.1}
check_chars JANUS_WS_IP "$ws_ip" "0-9a-fA-F.:"
case "$ws_ip" in
  0.0.0.0 | :: | "[::]") die "JANUS_WS_IP=$ws_ip would expose the API on every interface: use a loopback or private address" ;;
esac
ws_port=${JANUS_WS_PORT:-8188}
check_number JANUS_WS_PORT "$ws_port" 1 65535
ws_acl=${JANUS_WS_ACL:-127.}
check_chars JANUS_WS_ACL "$ws_acl" "0-9a-fA-F.:,"
rtp_range=${JANUS_RTP_PORT_RANGE:-20000-40000}
check_chars JANUS_RTP_PORT_RANGE "$rtp_range" "0-9-"
rtp_min=${rtp_range%-*}
rtp_max=${rtp_range#*-}
check_number "JANUS_RTP_PORT_RANGE's first port" "$rtp_min" 1024 65535
check_number "JANUS_RTP_PORT_RANGE's last port" "$rtp_max" "$rtp_min" 65535
nat=${JANUS_NAT_1_1_MAPPING:-}
[ -z "$nat" ] || check_chars JANUS_NAT_1_1_MAPPING "$nat" "0-9a-fA-F.:,"
session_timeout=${JANUS_SESSION_TIMEOUT:-60}
check_number JANUS_SESSION_TIMEOUT "$session_timeout" 1 3600
server_name=${JANUS_SERVER_NAME:-audioexchange-janus}
check_chars JANUS_SERVER_NAME "$server_name" "A-Za-z0-9_.-"
debug_level=${JANUS_DEBUG_LEVEL:-4}
check_number JANUS_DEBUG_LEVEL "$debug_level" 0 7
lib_dir=${JANUS_LIB_DIR:-$(find_lib_dir)}
check_chars JANUS_LIB_DIR "$lib_dir" "A-Za-z0-9_./-"
check_chars "OUT_DIR" "$out" "A-Za-z0-9_./-"
[ -f "$lib_dir/plugins/libjanus_videoroom.so" ] || die "$lib_dir/plugins has no libjanus_videoroom.so"
[ -f "$lib_dir/transports/libjanus_websockets.so" ] || die "$lib_dir/transports has no libjanus_websockets.so"

render() {
  sed \
    -e "s|@CONFIG_DIR@|$out|g" \
    -e "s|@LIB_DIR@|$lib_dir|g" \
    -e "s|@API_SECRET@|$JANUS_API_SECRET|g" \
    -e "s|@ADMIN_SECRET@|$JANUS_ADMIN_SECRET|g" \
    -e "s|@ADMIN_KEY@|$JANUS_ADMIN_KEY|g" \
    -e "s|@WS_IP@|$ws_ip|g" \
    -e "s|@WS_PORT@|$ws_port|g" \
    -e "s|@WS_ACL@|$ws_acl|g" \
    -e "s|@RTP_PORT_RANGE@|$rtp_min-$rtp_max|g" \
    -e "s|@SESSION_TIMEOUT@|$session_timeout|g" \
    -e "s|@SERVER_NAME@|$server_name|g" \
    -e "s|@DEBUG_LEVEL@|$debug_level|g" \
    -e "s|@DISABLED_PLUGINS@|$(others_in "$lib_dir/plugins" libjanus_videoroom.so)|g" \
    -e "s|@DISABLED_TRANSPORTS@|$(others_in "$lib_dir/transports" libjanus_websockets.so)|g" \
    -e "s|@DISABLED_LOGGERS@|$(others_in "$lib_dir/loggers" "")|g" \
    -e "s|@DISABLED_EVENTS@|$(others_in "$lib_dir/events" "")|g" \
    "$templates/$1" >"$out/$1.tmp"
  if [ -n "$nat" ]; then
    sed -i "s|@NAT_1_1_MAPPING@|$nat|g" "$out/$1.tmp"
  else
    sed -i '/@NAT_1_1_MAPPING@/d' "$out/$1.tmp"
  fi
  if grep -n '@[A-Z0-9_]*@' "$out/$1.tmp" >&2; then
    die "$1: a placeholder above was left unfilled"
  fi
  mv "$out/$1.tmp" "$out/$1"
}

umask 077
for template in janus.jcfg janus.transport.websockets.jcfg janus.plugin.videoroom.jcfg; do
  render "$template"
done
