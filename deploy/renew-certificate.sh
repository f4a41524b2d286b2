#!/bin/sh
# certbot deploy hook: install a renewed Let's Encrypt certificate for nginx and coturn.
#
#   certbot certonly --webroot -w /opt/audioexchange/deploy/acme -d call.example.org \
#     --deploy-hook /opt/audioexchange/deploy/renew-certificate.sh
#
# certbot sets RENEWED_LINEAGE (e.g. /etc/letsencrypt/live/call.example.org). nginx reloads
# without dropping anything; coturn restarts, so calls relayed through TURN reconnect.
set -eu
cd "$(dirname "$0")"
: "${RENEWED_LINEAGE:?run by certbot as --deploy-hook, which sets RENEWED_LINEAGE}"

install -m 644 "$RENEWED_LINEAGE/fullchain.pem" certs/fullchain.pem.new
install -m 600 "$RENEWED_LINEAGE/privkey.pem" certs/privkey.pem.new
mv certs/fullchain.pem.new certs/fullchain.pem
mv certs/privkey.pem.new certs/privkey.pem

if docker compose version >/dev/null 2>&1; then
  compose="docker compose"
else
  compose="docker-compose"
fi
$compose exec -T nginx nginx -s reload
$compose restart coturn
