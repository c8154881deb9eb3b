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

if [ "${1:-}" = "--book" ]; then
  if ! mdbook --version 2>/dev/null | grep -q "v0.5.4"; then
    echo "install-deps: installing mdbook 0.5.4" >&2
    cargo install --locked mdbook --version 0.5.4 --no-default-features --features search --quiet
  fi
fi
