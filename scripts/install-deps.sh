#!/usr/bin/env bash
# Installs every Debian 12 package the relay needs to build, run and be tested.
# Idempotent; run as root (or with sudo available).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

build_pkgs=(
  build-essential cmake ninja-build pkg-config ccache
  libuv1-dev libssl-dev libc-ares-dev libidn2-dev liblmdb-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libre2-dev libcpp-httplib-dev zlib1g-dev
  libcrypt-dev
  openssl ca-certificates
)
test_pkgs=(
  python3 python3-pytest python3-prometheus-client swaks libnet-ssleay-perl postfix lmdb-utils
  sslscan
  iproute2 procps
  pflogsumm libsasl2-modules
  clang libclang-rt-14-dev unbound
  nsd ldnsutils
)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--with-tests" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Postfix is only used for its smtp-source/smtp-sink binaries and as a test peer: keep
# the package from setting up a system mail server.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The DNS tests run their own unbound (unbound -d -c FILE on a free loopback port): the
# system service the package starts is not used, so stop it if this run installed it.
if [[ " ${missing[*]} " == *" unbound "* ]] && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now unbound.service unbound-resolvconf.service >/dev/null 2>&1 || true
fi
# Likewise the DNSSEC tests run their own nsd (nsd -d -c FILE) behind that unbound.
if [[ " ${missing[*]} " == *" nsd "* ]] && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now nsd.service >/dev/null 2>&1 || true
fi
