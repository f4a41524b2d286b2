#!/usr/bin/env bash
# Install what tests/deploy runs, from Debian's packages: coturn (turnserver), nginx,
# prometheus (promtool), docker-compose (only `config`; no Docker engine is needed),
# openssl, Janus (janus; janus-tools for janus-pp-rec), which sfu/tests starts, and GNU gettext
# (msgfmt, msgattrib), with which `make lint` checks the translations (scripts/check_translations.py).
# Quiet and idempotent: does nothing when every program is present, and needs root only when
# something is missing.
#
# The packages' own daemons are kept from starting (and stopped if they run anyway):
# the tests start their own instances on free loopback ports.
set -euo pipefail

declare -A package_of=(
  [turnserver]=coturn
  [nginx]=nginx
  [promtool]=prometheus
  [docker-compose]=docker-compose
  [openssl]=openssl
  [janus]=janus
  [janus-pp-rec]=janus-tools
  [msgfmt]=gettext
)
daemons=(coturn nginx prometheus janus)

missing=()
for program in "${!package_of[@]}"; do
  command -v "$program" >/dev/null 2>&1 || missing+=("${package_of[$program]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deploy-tools: missing ${missing[*]}; run as root (sudo $0)" >&2
  exit 1
fi

# invoke-rc.d and deb-systemd-invoke ask policy-rc.d whether to start a service: 101 = no.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
echo "install-deploy-tools: installing ${missing[*]}"
apt_install 2>/dev/null || { apt-get update -qq && apt_install; }

for daemon in "${daemons[@]}"; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$daemon" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$daemon" ]; then
    "/etc/init.d/$daemon" stop >/dev/null 2>&1 || true
  fi
done
