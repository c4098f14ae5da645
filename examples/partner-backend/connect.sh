#!/usr/bin/env bash
# Connects a Datadog organization through the partner backend with curl and
# a cookie jar, as a browser would, then lists the connections:
#
#   DDOAUTH_AUTOCONSENT=1 go run ./examples/partner-backend &
#   ./examples/partner-backend/connect.sh [site]     # default https://app.datadoghq.eu
#
# site is a name (eu1, US1-FED), a domain, a host or an origin.
# BASE is the backend's origin (default http://127.0.0.1:8080), USER_NAME
# the stub user (default alice). Run twice for one site, the second
# connection shows the API key the first saved: Datadog creates one per
# organization. DISCONNECT=1 then disconnects every connection of the
# user, which revokes its grant at Datadog (once: again is a no-op).
set -euo pipefail

BASE=${BASE:-http://127.0.0.1:8080}
SITE=${1:-https://app.datadoghq.eu}
JAR=$(mktemp)
trap 'rm -f "$JAR"' EXIT

# Every request reads and writes the jar: the session cookie, and the
# authorization's own cookie between onboarding and callback.
c() { curl --silent --show-error --fail-with-body --cookie "$JAR" --cookie-jar "$JAR" "$@"; }

echo "== sign in as ${USER_NAME:-alice}"
c --output /dev/null --data-urlencode "user=${USER_NAME:-alice}" "$BASE/signin"

echo "== onboarding ($SITE) -> Datadog authorize -> callback"
c --location --get --data-urlencode "site=$SITE" "$BASE/oauth/datadog/onboarding" |
  sed -e 's/<[^>]*>/ /g' -e 's/  */ /g' -e '/^ *$/d'

echo "== GET /connections"
connections=$(c "$BASE/connections")
echo "$connections"

if [ "${DISCONNECT:-}" = 1 ]; then
  for id in $(echo "$connections" | sed -n 's/^ *"id": "\([^"]*\)".*/\1/p'); do
    echo "== POST /connections/$id/disconnect"
    c --request POST "$BASE/connections/$id/disconnect"
  done
fi
