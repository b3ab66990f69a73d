#!/usr/bin/env bash
# All tests, from nothing: install the Debian packages we need, then
# 'make check' on the selected base (build, fetch the guest, run every
# test), then the tests on every other base (make check-B: build/B is
# built beside the selected one).  SECOND_BASE_TESTFLAGS picks the tests
# for the other bases (default: see below and README).
set -eu -o pipefail
cd "$(dirname "$0")/.."
SRCDIR=$PWD
. scripts/lib/common.sh

# What CI leaves out on the second base, to stay well inside its time
# limit: tests whose code is the same on every base (the harness's own
# checks, the benchmark harness and its tiny run, the demo script) and
# the longest ones
# whose base-dependent part other tests there cover (the correctness
# suite but on armmp-lpae at 4 vCPUs: espt/diff/*, espt/chain/* and
# espt/coldlink/* run there on both kernels; the chain switch at 1 vCPU:
# it runs on armmp-lpae at 4; CPython's regression tests, about 12 min
# per base, whose base-dependent part the suite and espt/diff/* cover;
# the kernel table's suite but on armmp at 1 vCPU, which is also the
# suite's run there: it runs the user tables and the kernel table under
# the checking mode, and espt/diff/*, espt/chain/* and espt/coldlink/*
# cover armmp-lpae and 4 vCPUs).
SECOND_BASE_TESTFLAGS=${SECOND_BASE_TESTFLAGS-"-x boot/harness-catches-failure -x bench/catches-mismatch -x bench/tiny -x demo/main-job -x espt/degrade-on-host-failures -x espt/suite/armmp/smp1 -x espt/suite/armmp-lpae/smp1 -x espt/suite/armmp/smp4 -x espt/suite/armmp-lpae/smp4 -x espt/chain/armmp/smp1 -x python/ -x kernel/suite/armmp-lpae/ -x kernel/suite/armmp/smp4"}

scripts/install-deps.sh
make check "$@"
selected=$(configured_base)
for b in $BASES; do
    [ "$b" != "$selected" ] || continue
    echo "  [espt] tests on the second base, $b${SECOND_BASE_TESTFLAGS:+ ($SECOND_BASE_TESTFLAGS)}"
    make "check-$b" TESTFLAGS="$SECOND_BASE_TESTFLAGS"
done
