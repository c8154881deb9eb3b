#!/usr/bin/env bash
# Mutation testing: how many small semantic changes to the code the tests catch.
#
#   scripts/mutants.sh sdk   [cargo-mutants options]   # the SDK, by the SDK's and testkit's tests alone
#   scripts/mutants.sh email [cargo-mutants options]   # the Email connector, by its own tests
#
# Useful options: --file sdk/src/error.rs (only that file), --shard 0/8 (one eighth, to
# fit a run in the time at hand; run every k in 0..8 for the whole), --list (count only).
# Results: mutants.out/ (outcomes.json, caught.txt, missed.txt); the score and the
# survivors go in docs/src/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-mutants >/dev/null; then
  cargo install --locked cargo-mutants --version 27.1.0
fi
what="${1:-sdk}"
shift || true
case "$what" in
  sdk)
    # No Email tests: a regression in the SDK must be caught by what a third-party
    # connector runs: the SDK's tests, the testkit (its conformance suite and teeth),
    # and the two example connectors, which use only the public API.
    # The testkit and the examples are named as packages so their tests run; mutants
    # are kept to the SDK's files (all of them unless --file narrows it).
    files=(--file 'sdk/src/**')
    for arg in "$@"; do
      case "$arg" in -f|--file|--file=*) files=() ;; esac
    done
    exec cargo mutants -p connector-sdk-rs -p connector-testkit -p file-connector -p rest-connector \
      --test-package connector-sdk-rs,connector-testkit,file-connector,rest-connector \
      --timeout-multiplier 3 "${files[@]}" "$@"
    ;;
  email)
    scripts/install-deps.sh
    exec cargo mutants -p email-connector --test-package email-connector \
      --timeout-multiplier 3 "$@"
    ;;
  *)
    echo "usage: scripts/mutants.sh sdk|email [cargo-mutants options]" >&2
    exit 2
    ;;
esac
