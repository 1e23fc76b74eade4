#!/usr/bin/env bash
# Builds a copy of tests/consumer/project against ferry (mode: subdirectory or package) in a
# scratch dir, checks that installing it installs nothing of ferry (as a subdirectory), that
# the schemas the listed ones include are generated exactly once (an include cycle among
# them), and that editing an included schema regenerates the schemas that include it, then
# runs the project's server and its client (every kind of call, checked) as two processes
# over shm://, unix:// and unix:// moved to shared memory. Used by ctest.
set -euo pipefail
mode=$1 ferry_source=$2 ferry_build=$3
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d /tmp/ferry-consumer-XXXXXX)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && { kill -KILL "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  rm -rf "$scratch"
}
trap cleanup EXIT

args=(-DFERRY_MODE="$mode")
if [[ $mode == package ]]; then
  cmake --install "$ferry_build" --prefix "$scratch/prefix" >/dev/null
  args+=(-DCMAKE_PREFIX_PATH="$scratch/prefix")
else
  args+=(-DFERRY_SOURCE_DIR="$ferry_source")
fi
cp -r "$here/project" "$scratch/src"
cmake -S "$scratch/src" -B "$scratch/build" "${args[@]}" >/dev/null
cmake --build "$scratch/build" -j"$(nproc)" >/dev/null

# A project that adds ferry as a subdirectory installs none of ferry's files (FERRY_INSTALL
# is off there unless the project turns it on).
if [[ $mode == subdirectory ]]; then
  cmake --install "$scratch/build" --prefix "$scratch/installed" >/dev/null
  if [[ -n $(find "$scratch/installed" -iname '*ferry*' 2>/dev/null) ]]; then
    echo "consumer ($mode): installing the project installed ferry's files:" >&2
    find "$scratch/installed" -iname '*ferry*' >&2
    exit 1
  fi
fi

# ferry_add_idl names only the top-level schemas. Their includes are generated once: units.idl
# (included by both) by shop_api, which inventory_api links; stock.idl (in a cycle with
# inventory.idl) by inventory_api.
generated=$scratch/build/ferry_generated
for header in shop_api/units_generated.h shop_api/units.ferry.h inventory_api/stock_generated.h; do
  if [[ ! -f $generated/$header ]]; then
    echo "consumer ($mode): $header was not generated" >&2
    exit 1
  fi
done
if [[ -e $generated/inventory_api/units_generated.h ]]; then
  echo "consumer ($mode): units.idl was generated twice (by inventory_api too)" >&2
  exit 1
fi

# An edit to an included schema regenerates it and every schema that includes it (the
# dependency comes from ferryc's depfile, not from the list given to ferry_add_idl).
touch "$scratch/marker"
echo 'table AddedLater { x:int; }' >>"$scratch/src/schemas/common/units.idl"
cmake --build "$scratch/build" -j"$(nproc)" >/dev/null
grep -q AddedLater "$generated/shop_api/units_generated.h"
for dependant in shop_api/shop.ferry.h inventory_api/inventory.ferry.h; do
  if [[ ! "$generated/$dependant" -nt "$scratch/marker" ]]; then
    echo "consumer ($mode): editing an included schema did not regenerate $dependant" >&2
    exit 1
  fi
done

export FERRY_RUNTIME_DIR=$scratch/run
mkfifo "$scratch/in" "$scratch/out"
socket=unix://$scratch/shop.sock
"$scratch/build/shop_server" shm://shop "$socket" <"$scratch/in" >"$scratch/out" &
server_pid=$!
exec 3>"$scratch/in" 4<"$scratch/out"
if ! read -r -t 30 line <&4 || [[ $line != ready ]]; then
  echo "consumer ($mode): shop_server did not start" >&2
  exit 1
fi
# Every kind of call, checked by the client, over shared memory, over the socket alone, and
# over a socket connection that moves to shared memory.
timeout 120 "$scratch/build/shop_client" shm://shop shm
timeout 120 "$scratch/build/shop_client" "$socket" unix --no-shm
timeout 120 "$scratch/build/shop_client" "$socket" shm
exec 3>&-            # closing the server's stdin shuts it down
wait "$server_pid"; server_pid=
echo "consumer ($mode): built against ferry and called across two processes"
