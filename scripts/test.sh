#!/usr/bin/env bash
# The full test suite: unit, integration (against real Postfix and Dovecot started by
# the tests themselves), conformance, macro UI and doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace "$@"
