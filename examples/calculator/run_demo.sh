#!/usr/bin/env bash
# make demo: starts the calculator server, runs the client against it over shared memory, then
# stops the server with SIGTERM. Both processes are reaped; exits non-zero if either failed.
#   run_demo.sh <bin dir> [endpoint [client args]]
#   endpoints: shm://calc (default), unix:///tmp/calc.sock, tcp://127.0.0.1:0, mq://calc;
#   client args: --no-shm keeps a unix:// or tcp:// channel on its socket
# The client connects to the endpoint the server reports (a tcp port 0 becomes a real port).
set -euo pipefail
bin_dir=${1:?usage: run_demo.sh <dir with calculator_server and calculator_client>}
endpoint=${2:-shm://calc}
exec "$(dirname "$0")/../run_example.sh" demo "$bin_dir/calculator_server" \
  "$bin_dir/calculator_client" "$endpoint" "${@:3}"
