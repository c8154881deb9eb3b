#!/usr/bin/env bash
# Benchmarks against peers: the Email connector (send, read, memory) on local Postfix
# and Dovecot, and the SDK host's throughput. Writes docs/src/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# GNU time measures peak memory; Python 3 runs the peers.
command -v /usr/bin/time >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
command -v python3 >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null; }
cargo bench -p email-connector --bench email_bench
cargo bench -p file-connector --bench host_throughput
