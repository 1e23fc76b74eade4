#!/usr/bin/env bash
# make example-chat: the parrot server and the chat client over shared memory (see
# run_example.sh).
#   run.sh [bin dir [endpoint [line...]]]
#   bin dir: build/examples/chat by default; endpoint: shm://chat by default
set -euo pipefail
here=$(dirname "$0")
bin_dir=${1:-$here/../../build/examples/chat}
exec "$here/../run_example.sh" chat "$bin_dir/chat_server" "$bin_dir/chat_client" \
  "${2:-shm://chat}" "${@:3}"
