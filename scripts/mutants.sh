#!/usr/bin/env bash
# Mutation testing: how many small semantic changes to the code the tests catch.
#
#   scripts/mutants.sh sdk     [cargo-mutants options]  # the SDK, by the SDK's and testkit's tests alone
#   scripts/mutants.sh sdk-lib [cargo-mutants options]  # the SDK, by its library's unit tests (a fast first pass)
#   scripts/mutants.sh email   [cargo-mutants options]  # the Email connector, by its own tests
#
# The whole SDK in two stages (about 5 s a mutant, then about 25 s for each survivor):
#
#   scripts/mutants.sh sdk-lib -o target/mutants-sdk
#   cp -r target/mutants-sdk/mutants.out target/mutants-sdk/first-pass   # --iterate rewrites it
#   scripts/mutants.sh sdk -o target/mutants-sdk --iterate
#
# What the first pass catches is caught by the whole suite too (the library's tests are
# part of it), so the second pass needs only the survivors.
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
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest --version 0.9.143
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
    # nextest runs the test binaries side by side (many tests wait on child processes);
    # the trybuild UI test is left out: it only compiles macro misuse and compares the
    # compiler's errors, which no change to a function body in sdk/src can alter, and
    # it rebuilds the SDK in a project of its own (a minute a mutant). No baseline: the
    # suite passes on main (CI), and cargo-mutants' baseline builds a smaller set of
    # packages, so every mutant would rebuild the dependencies.
    exec cargo mutants -p connector-sdk-rs -p connector-testkit -p file-connector -p rest-connector \
      --test-package connector-sdk-rs,connector-testkit,file-connector,rest-connector \
      --test-tool nextest --baseline skip --timeout 120 --build-timeout 900 \
      "${files[@]}" "$@" -- -E 'not binary(ui)' --test-threads 4
    ;;
  sdk-lib)
    files=(--file 'sdk/src/**')
    for arg in "$@"; do
      case "$arg" in -f|--file|--file=*) files=() ;; esac
    done
    exec cargo mutants -p connector-sdk-rs --test-package connector-sdk-rs \
      --baseline skip --timeout 15 --build-timeout 900 "${files[@]}" "$@" -- --lib
    ;;
  email)
    scripts/install-deps.sh
    exec cargo mutants -p email-connector --test-package email-connector \
      --timeout-multiplier 3 "$@"
    ;;
  *)
    echo "usage: scripts/mutants.sh sdk|sdk-lib|email [cargo-mutants options]" >&2
    exit 2
    ;;
esac
