#!/usr/bin/env bash
# The main job, from nothing: install the Debian packages we need, build
# qemu-espt, fetch the default guest, boot it and run a workload.
set -eu -o pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make demo "$@"
