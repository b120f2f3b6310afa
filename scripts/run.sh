#!/usr/bin/env bash
# Installs the dependencies, builds, and starts secmx-relay in the foreground with the
# default configuration (etc/secmx-relay.toml): SMTP on 127.0.0.1:2525, the queue in
# var/queue, self-signed certificates for STARTTLS made on first start in var/tls (RSA,
# and ECDSA P-256 beside it: OpenSSL serves each client the one it can use).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
mkdir -p var/tls
scripts/make-dev-cert.sh var/tls/cert.pem var/tls/key.pem
scripts/make-dev-cert.sh --ecdsa var/tls/ecdsa-cert.pem var/tls/ecdsa-key.pem
[ -f var/admin.token ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > var/admin.token)
exec build/relay/secmx-relay --config "${1:-etc/secmx-relay.toml}"
