#!/usr/bin/env bash
# System pieces the test suite needs beyond the virtualenv: a running PostgreSQL.
# Idempotent and quiet when everything is already there.
set -euo pipefail

pg_up() { python3 - <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", 5432))
except OSError:
    sys.exit(1)
PY
}

if ! pg_up; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        echo "setup: starting the local PostgreSQL cluster"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
fi
if ! pg_up; then
    echo "setup: no PostgreSQL on 127.0.0.1:5432; the PostgreSQL tests will fail (set DSX_TEST_POSTGRES_URL to point elsewhere)" >&2
fi

# A real browser for the web tests (Debian's chromium; nothing is downloaded by a test tool).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing Debian chromium for the browser tests"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "setup: chromium is missing; install Debian's chromium package for the browser tests" >&2
    fi
fi

# The shipped reverse-proxy example runs in front of the app in tests/web/test_proxy_nginx.py
# (Debian's nginx; the test renders deploy/proxy/nginx.conf with loopback ports).
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing Debian nginx for the reverse-proxy test"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
    else
        echo "setup: nginx is missing; install Debian's nginx package for the reverse-proxy test" >&2
    fi
fi

# Likewise Debian's caddy for deploy/proxy/Caddyfile (tests/web/test_proxy_caddy.py).
if ! command -v caddy >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing Debian caddy for the reverse-proxy test"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy >/dev/null
    else
        echo "setup: caddy is missing; install Debian's caddy package for the reverse-proxy test" >&2
    fi
fi
