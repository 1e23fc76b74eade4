#!/usr/bin/env bash
# make example-ticker: the ticker server and client over shared memory (see run_example.sh).
#   run.sh [bin dir [endpoint [ticks [period_us]]]]
#   bin dir: build/examples/ticker by default; endpoint: shm://ticker by default
set -euo pipefail
here=$(dirname "$0")
bin_dir=${1:-$here/../../build/examples/ticker}
exec "$here/../run_example.sh" ticker "$bin_dir/ticker_server" "$bin_dir/ticker_client" \
  "${2:-shm://ticker}" "${@:3}"
