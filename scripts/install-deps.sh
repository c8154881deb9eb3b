#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain: the mail servers the
# email tests and the demo run against (Debian packages), and with --book, mdBook.
# Idempotent: installs only what is missing.
set -euo pipefail

need=()
for pkg in dovecot-core dovecot-imapd dovecot-lmtpd postfix openssl python3 python3-dkim mailutils-imap4d; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to install ${need[*]} (the mail servers also need root to run)" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]}" >&2
  # Postfix asks questions on install; answer them up front.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# unpack ROOT BINARY PACKAGE...: unpacks Debian packages into ROOT (not installed:
# they would replace what is), unless ROOT/BINARY is there already.
unpack() {
  local root=$1 binary=$2
  shift 2
  [ -x "$root/$binary" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to unpack $* into $root" >&2
    exit 1
  fi
  echo "install-deps: unpacking $* into $root" >&2
  local debs
  debs=$(mktemp -d)
  (cd "$debs" && apt-get download -qq "$@" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get download -qq "$@"; })
  mkdir -p "$root"
  for deb in "$debs"/*.deb; do dpkg -x "$deb" "$root"; done
  rm -rf "$debs"
}

# Exim, the second SMTP server of the interop tests: its package would replace Postfix
# (both provide mail-transport-agent), so it is unpacked beside it instead, with the
# system user its binary was built for.
unpack /opt/connector-interop/exim usr/sbin/exim4 exim4-daemon-light
if ! id Debian-exim >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin Debian-exim
fi

# Cyrus IMAP, the second full IMAP server of the interop tests: its package would
# replace Dovecot's IMAP server, so it is unpacked beside it with the libraries it needs
# that Dovecot's system lacks, and the `cyrus` user its binaries were built for.
unpack /opt/connector-interop/cyrus usr/lib/cyrus/bin/master \
  cyrus-common cyrus-imapd libxapian30 libpcre3 libical3
if ! id cyrus >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin -g mail cyrus
fi

if [ "${1:-}" = "--book" ]; then
  if ! mdbook --version 2>/dev/null | grep -q "v0.5.4"; then
    echo "install-deps: installing mdbook 0.5.4" >&2
    cargo install --locked mdbook --version 0.5.4 --no-default-features --features search --quiet
  fi
fi
