#!/usr/bin/env bash
# All tests, from nothing: install the Debian packages we need, then
# 'make check' (build, fetch the guest, run every test).
set -eu -o pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make check "$@"
