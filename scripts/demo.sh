#!/usr/bin/env bash
# The main job, end to end: start local Postfix and Dovecot, send an email with the
# email connector, read it back, and print the JSON of both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --quiet -p email-connector -p email-testsupport --bins
exec "$CARGO_TARGET_DIR/debug/mail-sandbox" --connection .sandbox/connection.json -- scripts/demo-round-trip.sh
