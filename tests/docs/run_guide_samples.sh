#!/usr/bin/env bash
# Runs the guide's samples (a server and its client in one process, over shared memory) with
# a runtime dir of their own, and fails when they fail or leave anything in it.
#   run_guide_samples.sh <samples binary> <scratch dir>
set -euo pipefail
samples=${1:?usage: run_guide_samples.sh <samples binary> <scratch dir>}
scratch=${2:?usage: run_guide_samples.sh <samples binary> <scratch dir>}
FERRY_RUNTIME_DIR=$(mktemp -d "$scratch/guide-runtime.XXXXXX")  # mode 0700, as ferry requires
export FERRY_RUNTIME_DIR
trap 'rm -rf "$FERRY_RUNTIME_DIR"' EXIT

"$samples"
left=$(ls -A "$FERRY_RUNTIME_DIR")
if [[ -n $left ]]; then
  echo "the samples left in the runtime dir: $left" >&2
  exit 1
fi
