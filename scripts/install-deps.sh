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

# Exim, the second SMTP server of the interop tests: its package would replace Postfix
# (both provide mail-transport-agent), so it is unpacked beside it instead, with the
# system user its binary was built for.
EXIM_ROOT=/opt/connector-interop/exim
if [ ! -x "$EXIM_ROOT/usr/sbin/exim4" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to unpack Exim into $EXIM_ROOT" >&2
    exit 1
  fi
  echo "install-deps: unpacking exim4-daemon-light into $EXIM_ROOT" >&2
  debs=$(mktemp -d)
  (cd "$debs" && apt-get download -qq exim4-daemon-light >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get download -qq exim4-daemon-light; })
  mkdir -p "$EXIM_ROOT"
  dpkg -x "$debs"/exim4-daemon-light_*.deb "$EXIM_ROOT"
  rm -rf "$debs"
fi
if ! id Debian-exim >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin Debian-exim
fi

# Cyrus IMAP, the second full IMAP server of the interop tests: its package would
# replace Dovecot's IMAP server, so it is unpacked beside it with the libraries it needs
# that Dovecot's system lacks, and the `cyrus` user its binaries were built for.
CYRUS_ROOT=/opt/connector-interop/cyrus
if [ ! -x "$CYRUS_ROOT/usr/lib/cyrus/bin/master" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to unpack Cyrus into $CYRUS_ROOT" >&2
    exit 1
  fi
  echo "install-deps: unpacking cyrus-imapd into $CYRUS_ROOT" >&2
  debs=$(mktemp -d)
  pkgs="cyrus-common cyrus-imapd libxapian30 libpcre3 libical3"
  (cd "$debs" && apt-get download -qq $pkgs >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get download -qq $pkgs; })
  mkdir -p "$CYRUS_ROOT"
  for deb in "$debs"/*.deb; do dpkg -x "$deb" "$CYRUS_ROOT"; done
  rm -rf "$debs"
fi
if ! id cyrus >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin -g mail cyrus
fi

if [ "${1:-}" = "--book" ]; then
  if ! mdbook --version 2>/dev/null | grep -q "v0.5.4"; then
    echo "install-deps: installing mdbook 0.5.4" >&2
    cargo install --locked mdbook --version 0.5.4 --no-default-features --features search --quiet
  fi
fi
