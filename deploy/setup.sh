#!/usr/bin/env bash
# Prepare deploy/ for `docker compose up`: deploy/.env with generated secrets, and a
# self-signed TLS certificate in deploy/certs/ for a first start (docs/deploy.md then
# replaces it with Let's Encrypt).
#
# Safe to run again, e.g. after an upgrade: it never changes a value already in .env nor
# an existing certificate; it only adds variables that .env.example gained since.
#
# Usage: deploy/setup.sh [DOMAIN]     DOMAIN: the site's public name (default: localhost)
set -euo pipefail
cd "$(dirname "$0")"
umask 077

SECRETS=(SECRET_KEY POSTGRES_PASSWORD TURN_SHARED_SECRET GRAFANA_ADMIN_PASSWORD)
# Janus (janus1, janus2 and the app): the API secret, the VideoRoom admin key, the Admin API secret.
SECRETS+=(JANUS_API_SECRET JANUS_ADMIN_KEY JANUS_ADMIN_SECRET)

die() {
  echo "setup.sh: $*" >&2
  exit 1
}

# The value of KEY in .env (the last KEY= line), empty when absent.
value_of() {
  sed -n "s/^$1=//p" .env | tail -n 1
}

has_key() {
  grep -q "^$1=" .env
}

# Set KEY=VALUE in .env: replace its line, or append one.
set_value() {
  local key=$1 value=$2 tmp
  tmp=$(mktemp .env.XXXXXX)
  awk -v key="$key" -v value="$value" '
    index($0, key "=") == 1 { if (!done) print key "=" value; done = 1; next }
    { print }
    END { if (!done) print key "=" value }
  ' .env >"$tmp"
  mv "$tmp" .env
}

create_env() {
  if [ ! -f .env ]; then
    cp .env.example .env
    echo "Created deploy/.env from .env.example."
  fi
  chmod 600 .env
  # Variables added to .env.example since .env was made, with their example values.
  local line key
  while IFS= read -r line; do
    key=${line%%=*}
    if ! has_key "$key"; then
      printf '%s\n' "$line" >>.env
      echo "Added $key to deploy/.env."
    fi
  done < <(grep -E '^[A-Z][A-Z0-9_]*=' .env.example)
}

set_domain() {
  local wanted=$1 current
  current=$(value_of DOMAIN)
  if [ -n "$current" ]; then
    if [ -n "$wanted" ] && [ "$wanted" != "$current" ]; then
      die "deploy/.env already has DOMAIN=$current; edit it by hand to change it (and remove deploy/certs/ for a new certificate)."
    fi
    return
  fi
  wanted=${wanted:-localhost}
  [[ $wanted =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || die "not a host name: $wanted"
  set_value DOMAIN "$wanted"
  echo "Set DOMAIN=$wanted."
}

generate_secrets() {
  local key
  for key in "${SECRETS[@]}"; do
    if [ -z "$(value_of "$key")" ]; then
      set_value "$key" "$(openssl rand -hex 32)"
      echo "Generated $key."
    fi
  done
}

# This host's own public addresses (TURN_EXTERNAL_IP's public part, DOMAIN's A and AAAA
# records; loopback left out, coturn refuses it anyway), comma-separated.
own_addresses() {
  local external
  external=$(value_of TURN_EXTERNAL_IP)
  {
    if [ -n "$external" ]; then echo "${external%%/*}"; fi
    timeout 5 getent ahosts "$(value_of DOMAIN)" 2>/dev/null | awk '{ print $1 }' || true
  } | grep -Ev '^(127\.|::1$|::ffff:127\.)' | sort -u | paste -sd, - || true
}

# coturn must not relay to this host itself: fill TURN_DENIED_PEER_IPS once, if it is empty.
set_own_addresses() {
  local found
  [ -z "$(value_of TURN_DENIED_PEER_IPS)" ] || return 0
  found=$(own_addresses)
  if [ -n "$found" ]; then
    set_value TURN_DENIED_PEER_IPS "$found"
    echo "Set TURN_DENIED_PEER_IPS=$found (this host's public addresses; check them)."
  else
    echo "Could not find this host's public address: set TURN_DENIED_PEER_IPS in deploy/.env by hand." >&2
  fi
}

# A self-signed certificate for DOMAIN, unless a certificate (any) is already there.
create_certificate() {
  local domain=$1 san
  mkdir -p certs
  if [ -e certs/fullchain.pem ] || [ -e certs/privkey.pem ]; then
    [ -s certs/fullchain.pem ] && [ -s certs/privkey.pem ] ||
      die "deploy/certs/ holds only one of fullchain.pem and privkey.pem; fix or remove it."
    return
  fi
  if [[ $domain =~ ^[0-9.]+$ ]]; then san="IP:$domain"; else san="DNS:$domain"; fi
  openssl req -x509 -nodes -newkey rsa:2048 -days 365 -subj "/CN=$domain" \
    -addext "subjectAltName=$san" -keyout certs/privkey.pem -out certs/fullchain.pem 2>/dev/null
  chmod 600 certs/privkey.pem
  chmod 644 certs/fullchain.pem
  echo "Created a self-signed certificate for $domain in deploy/certs/ (browsers will warn until Let's Encrypt replaces it)."
}

main() {
  command -v openssl >/dev/null || die "openssl is needed: apt-get install openssl"
  [ -f .env.example ] || die "deploy/.env.example is missing"
  create_env
  set_domain "${1:-}"
  generate_secrets
  set_own_addresses
  create_certificate "$(value_of DOMAIN)"
  # nginx's workers read Let's Encrypt's HTTP challenges from here.
  mkdir -p acme
  chmod 755 acme
  echo "deploy/ is ready: docker compose up -d --build (from deploy/)."
}

main "$@"
