#!/usr/bin/env bash
# Mutation testing: how many small semantic changes to the code the tests catch.
#
#   scripts/mutants.sh sdk     [cargo-mutants options]  # the SDK, by the SDK's and testkit's tests alone
#   scripts/mutants.sh sdk-lib [cargo-mutants options]  # the SDK, by its library's unit tests (a fast first pass)
#   scripts/mutants.sh email   [cargo-mutants options]  # the Email connector, by its own tests
#   scripts/mutants.sh email-lib [cargo-mutants options] # the Email connector, by its library's unit tests
#   scripts/mutants.sh email-areas DIR                   # what DIR's run missed, by each area's test binaries
#
# The Email connector in two stages, on a sample (its whole suite takes minutes a mutant):
#
#   scripts/mutants.sh email-lib -o target/mutants-email --shard 0/32 --sharding round-robin
#   scripts/mutants.sh email-areas target/mutants-email
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
    # The whole suite runs its test binaries one after another (each starts its own
    # Postfix and Dovecot, shared by its tests; nextest's process per test would start
    # them per test). Narrow the tests for a file with `-- --lib --test NAME ...`: what
    # a subset catches, the whole suite catches too. No baseline: CI runs the suite.
    scripts/install-deps.sh
    exec cargo mutants -p email-connector --test-package email-connector \
      --baseline skip --timeout 300 --build-timeout 900 "$@"
    ;;
  email-areas)
    # Each survivor of DIR's run, against the test binaries of its area (the files a
    # mutant is in decide the area). What a subset catches the whole suite catches too,
    # so a figure from here is a lower bound; each area's run is in DIR/areas/NAME.
    dir="${1:?usage: scripts/mutants.sh email-areas DIR}"
    survivors="$dir/mutants.out/missed.txt"
    all="$dir/all-mutants.txt"
    cargo mutants -p email-connector --list > "$all"
    area() { # name, file pattern (extended regex), test binaries...
      local name=$1 re=$2; shift 2
      local out="$dir/areas/$name"
      mkdir -p "$out/mutants.out"
      grep -E "^connectors/email/src/($re):" "$survivors" > "$out/set.txt" || true
      [ -s "$out/set.txt" ] || return 0
      # --iterate skips what previously_caught.txt lists: everything but this set.
      grep -Fxvf "$out/set.txt" "$all" > "$out/mutants.out/previously_caught.txt"
      local tests=()
      for t in "$@"; do tests+=(--test "$t"); done
      echo "== $name: $(wc -l < "$out/set.txt") mutants; tests: $*"
      "$0" email -o "$out" --iterate -- "${tests[@]}" | tail -1 || true
    }
    area parse 'read/(fields|header|mime|uu|record)\.rs|filename\.rs' \
      fidelity public_corpus hostile_corpus malformed round_trip attachment_modes raw_and_files behaviour_snapshots
    area read 'read/(mod|flow|pass|commit|mailbox|state|config|follow|save)\.rs|connection\.rs|lib\.rs' \
      after_read at_least_once read_selection state follow flag_changes folders folder_names read_interrupted \
      pipelining hostile_imap bad_input raw_and_files interop_imap4d discover conformance gmail_raw oauth2_grants check
    area send 'send/.*|protocol/smtp/.*' \
      send_batch send_journal recipients recipient_limit templates smtp_outcomes all_refused attachment_files \
      round_trip bad_input sent_copy_and_headers dsn dkim pipelining hostile_servers interop_exim \
      streamed_results behaviour_snapshots server_down
    area wire 'transport/.*|protocol/(imap|mutf7|mod)\.rs|check\.rs|checked\.rs|hints\.rs' \
      hostile_servers hostile_imap server_down smtp_outcomes check signals interop_imap4d pipelining hints \
      folder_names logging conformance discover read_selection after_read
    area auth 'auth/.*|settings\.rs' \
      oauth2 oauth2_grants token_endpoint_errors token_expiry check bad_input conformance
    ;;
  email-lib)
    exec cargo mutants -p email-connector --test-package email-connector \
      --baseline skip --timeout 30 --build-timeout 900 "$@" -- --lib
    ;;
  *)
    echo "usage: scripts/mutants.sh sdk|sdk-lib|email|email-lib|email-areas [cargo-mutants options]" >&2
    exit 2
    ;;
esac
