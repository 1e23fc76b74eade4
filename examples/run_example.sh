#!/usr/bin/env bash
# What every example's run script does: starts the server, runs the client against the endpoint
# the server reports, then stops the server with SIGTERM and prints what it said. Both processes
# are reaped; exits non-zero if either failed. The runtime dir is a fresh temporary directory,
# removed with everything else on exit, so nothing is left behind.
#   run_example.sh <label> <server> <client> <endpoint> [client args...]
# The client gets the endpoint as its first argument (a tcp port 0 becomes the real port).
set -euo pipefail
label=${1:?usage: run_example.sh <label> <server> <client> <endpoint> [client args...]}
server=${2:?} client=${3:?} endpoint=${4:?}
shift 4
for program in "$server" "$client"; do
  if [[ ! -x $program ]]; then
    echo "$label: $program is missing: build it first (make build)" >&2
    exit 1
  fi
done

runtime_dir=$(mktemp -d /tmp/ferry-example-XXXXXX)
scratch=$(mktemp -d /tmp/ferry-example-out-XXXXXX)
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
"$server" "$endpoint" >"$scratch/server.out" &
server_pid=$!
exec 3<"$scratch/server.out"
read -r -t 10 line <&3 || { echo "$label: the server did not start" >&2; exit 1; }
echo "$line"
endpoint=${line#server: listening on }

client_status=0
"$client" "$endpoint" "$@" || client_status=$?

kill -TERM "$server_pid"
# Drain what the server printed after the first line until it closes stdout.
while read -r -t 10 line <&3; do echo "$line"; done
server_status=0
wait "$server_pid" || server_status=$?
server_pid=
if ((client_status != 0 || server_status != 0)); then
  echo "$label: failed (client exit $client_status, server exit $server_status)" >&2
  exit 1
fi
echo "$label: server and client exited cleanly"
