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

runtime_dir=$(mktemp -d /tmp/ferry-demo-XXXXXX)
scratch=$(mktemp -d /tmp/ferry-demo-out-XXXXXX)
export FERRY_RUNTIME_DIR=$runtime_dir
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$runtime_dir" "$scratch"
}
trap cleanup EXIT

# The server announces itself on stdout once it listens: wait for that line, not for a time.
mkfifo "$scratch/server.out"
"$bin_dir/calculator_server" "$endpoint" >"$scratch/server.out" &
server_pid=$!
exec 3<"$scratch/server.out"
read -r -t 10 line <&3 || { echo "demo: the server did not start" >&2; exit 1; }
echo "$line"
endpoint=${line#server: listening on }

"$bin_dir/calculator_client" "$endpoint" "${@:3}"

kill -TERM "$server_pid"
# Drain what the server printed (the oneway Log and its goodbye) until it closes stdout.
while read -r -t 10 line <&3; do echo "$line"; done
wait "$server_pid"
echo "demo: server and client exited cleanly"
