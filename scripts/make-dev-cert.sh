#!/usr/bin/env bash
# make-dev-cert.sh - a self-signed certificate and key for running the relay in
# development (the default config's STARTTLS), never for production.
#
# Usage: scripts/make-dev-cert.sh [--ecdsa] CERT_PATH KEY_PATH [HOSTNAME]
#   HOSTNAME defaults to `hostname -f`; it becomes the CN and the subjectAltName
#   (an IP address becomes an IP SAN). RSA 2048 (the most widely accepted key type,
#   which matters for old SMTP peers), SHA-256, valid 10 years. --ecdsa: an ECDSA P-256
#   key instead, for [smtp] tls_ecdsa_cert/tls_ecdsa_key beside the RSA pair (its
#   handshakes cost the server a fraction of RSA's; OpenSSL picks per client).
#
# Idempotent: when both files exist nothing happens, so the README's run command can call
# it every time. When only one of them exists it refuses, rather than replace a key or a
# certificate someone may rely on. The key is written with mode 0600 (umask 077 from the
# moment files are created, so it is never readable by others, not even briefly); both
# files appear atomically (written to temporary names in their directory, then renamed).
set -euo pipefail

usage() { echo "usage: $0 [--ecdsa] CERT_PATH KEY_PATH [HOSTNAME]" >&2; exit 2; }
newkey="rsa:2048"
key_usage="digitalSignature, keyEncipherment"
if [ "${1:-}" = "--ecdsa" ]; then
  shift
  newkey="ec -pkeyopt ec_paramgen_curve:P-256"
  # No key encipherment with an EC key: ECDSA only signs.
  key_usage="digitalSignature"
fi
if [ $# -lt 2 ] || [ $# -gt 3 ] || [ -z "$1" ] || [ -z "$2" ]; then
  usage
fi
cert="$1"
key="$2"

if [ -e "$cert" ] && [ -e "$key" ]; then
  exit 0
fi
if [ -e "$cert" ] || [ -e "$key" ]; then
  echo "$0: only one of '$cert' and '$key' exists; refusing to overwrite it" >&2
  exit 1
fi

host="${3:-}"
if [ -z "$host" ]; then
  host="$(hostname -f 2>/dev/null || true)"
  [ -n "$host" ] || host="$(hostname)"
fi
host="${host%.}"
# Only what is safe inside an OpenSSL config value and a certificate name.
if ! [[ "$host" =~ ^[A-Za-z0-9.:-]+$ ]]; then
  echo "$0: unusable host name '$host'" >&2
  exit 1
fi
if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then
  san="IP:$host"
else
  san="DNS:$host"
fi

command -v openssl >/dev/null || { echo "$0: openssl not found" >&2; exit 1; }

# Directories keep the caller's umask (the relay may read them after dropping
# privileges); only the files are private from birth.
mkdir -p "$(dirname "$cert")" "$(dirname "$key")"
umask 077
tmp_cert="$(mktemp "$(dirname "$cert")/.make-dev-cert.XXXXXX")"
tmp_key="$(mktemp "$(dirname "$key")/.make-dev-cert.XXXXXX")"
tmp_conf="$(mktemp)"
trap 'rm -f "$tmp_cert" "$tmp_key" "$tmp_conf"' EXIT

# Our own config rather than the system's: its v3_ca section would make this a CA.
cat >"$tmp_conf" <<EOF
[req]
distinguished_name = dn
x509_extensions = leaf
prompt = no

[dn]
CN = $host

[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, $key_usage
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
EOF

if ! out="$(openssl req -x509 -new -newkey $newkey -nodes -sha256 -days 3650 \
    -config "$tmp_conf" -keyout "$tmp_key" -out "$tmp_cert" 2>&1)"; then
  echo "$0: openssl failed to create the certificate:" >&2
  echo "$out" >&2
  exit 1
fi

chmod 0600 "$tmp_key"
chmod 0644 "$tmp_cert"
mv -f "$tmp_key" "$key"
mv -f "$tmp_cert" "$cert"
echo "created self-signed certificate for $host: $cert (key: $key)"
