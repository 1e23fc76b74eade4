#!/usr/bin/env bash
# make example-upload: the upload server and client over shared memory (see run_example.sh).
# Fails unless the client copied no payload byte: every frame is built in place in a slot.
#   run.sh [bin dir [frames]]
#   bin dir: build/examples/upload by default
set -euo pipefail
here=$(dirname "$0")
bin_dir=${1:-$here/../../build/examples/upload}
if ! output=$("$here/../run_example.sh" upload "$bin_dir/upload_server" \
    "$bin_dir/upload_client" shm://upload "${@:2}"); then
  echo "$output"
  exit 1
fi
echo "$output"
if ! grep -qx 'client: channel.bytes_copied() = 0' <<<"$output"; then
  echo "upload: the client copied payload bytes; on shm:// it must copy none" >&2
  exit 1
fi
