#!/usr/bin/env bash
# Builds the book with the API documentation inside it (docs/book/api/), so the book's
# link to the rustdoc works. Needs mdbook (scripts/install-deps.sh --book).
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTDOCFLAGS="${RUSTDOCFLAGS:--D warnings}" cargo doc --workspace --no-deps --quiet
mdbook build docs
rm -rf docs/book/api
cp -r "${CARGO_TARGET_DIR:-target}/doc" docs/book/api
echo "book: docs/book/index.html (API documentation: docs/book/api/connector_sdk/index.html)"
