#!/usr/bin/env bash
#
# Install the Debian packages qemu-espt needs to build, test and benchmark.
# Idempotent: does nothing (and needs no network) when all are present.
# Uses sudo when not run as root.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -eu -o pipefail

PKGS=(
    # build
    build-essential make git patch xz-utils bzip2 ca-certificates ccache
    python3 meson ninja-build pkg-config
    # QEMU 10.0's configure builds a Python venv (its meson comes from
    # Debian 13, unpacked under build/10.0/tools by configure)
    python3-venv
    libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev
    # firmware the virt board's default NIC looks for
    ipxe-qemu
    # guest: cross compiler for our test programs, unpacking debs
    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross dpkg
    # the arm64 guest (10.0): its test programs, and building its 39-bit
    # VA kernel from Debian's source (tests/guest/kernel-va39.sh)
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross bc bison flex
    # tests and benchmarks
    python3-matplotlib
    # tests: a private libvirtd (tests/test_libvirt.py), qcow2 disks for
    # savevm/loadvm
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-utils
    # ... and UEFI firmware for its aarch64 domain
    qemu-efi-aarch64
    # tests: a gdbstub watchpoint (espt/gdb-watchpoint-in-section)
    gdb-multiarch
    # make deb (dpkg-shlibdeps, dpkg-gencontrol) and its check (install/deb)
    dpkg-dev lintian
)

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    echo "error: this script needs a Debian system with apt (Debian 12 is supported)" >&2
    exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
    case $p in \#*) continue ;; esac
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "  [espt] deps: all ${#PKGS[@]} Debian packages present"
    exit 0
fi

SUDO=
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi

echo "  [espt] deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A partially failing update (e.g. one index mid-sync) must not stop us if
# the packages can still be installed.
$SUDO apt-get -q update || echo "warning: apt-get update reported errors; trying the install anyway" >&2
$SUDO apt-get -q install -y --no-install-recommends "${missing[@]}"
echo "  [espt] deps: done"
