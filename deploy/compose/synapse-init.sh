#!/bin/sh
# One shot before Synapse starts: /data/secrets.yaml (the database block with the password
# from deploy/.env, and random secrets) and /data/signing.key, each only when absent.
set -eu
chown 991:991 /data   # the image's synapse user (its own entrypoint would do this)
if [ ! -f /data/secrets.yaml ]; then
  umask 077
  rand() { python -c 'import secrets; print(secrets.token_urlsafe(32))'; }
  cat > /data/secrets.yaml <<YAML
database:
  name: psycopg2
  args:
    user: synapse
    password: "$SYNAPSE_DB_PASSWORD"
    database: synapse
    host: postgres
    cp_min: 5
    cp_max: 10
registration_shared_secret: "$(rand)"
macaroon_secret_key: "$(rand)"
form_secret: "$(rand)"
YAML
  chown 991:991 /data/secrets.yaml   # the image's synapse user
fi
if [ ! -f /data/signing.key ]; then
  python -m synapse.app.homeserver --config-path /data/homeserver.yaml \
    --config-path /data/secrets.yaml --generate-keys
  chown 991:991 /data/signing.key
fi
