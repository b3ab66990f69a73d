#!/usr/bin/env bash
#
# Build the test guest: Debian's armhf kernels (armmp: short descriptors,
# SW PAN; armmp-lpae: LPAE) and an initramfs made of Debian's static
# busybox, our /init and our guest test programs.  With --arch=arm64, the
# arm64 guest instead (10.0's qemu-system-aarch64): Debian's arm64 kernel
# (4 KiB pages, 48-bit VA) and the same initramfs built for AArch64, in
# build/guest/arm64/.
#
# Kernels are resolved from the metapackages linux-image-armmp,
# linux-image-armmp-lpae and linux-image-arm64 and fetched with 'apt-get
# download' through a private apt state of that architecture under
# build/apt-ARCH (the system's dpkg is not told about it).  Everything is
# cached in build/guest/; --refresh looks for newer kernels.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -eu -o pipefail
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRCDIR/scripts/lib/common.sh"

ARCH=armhf
refresh=no

for a in "$@"; do
    case $a in
    --refresh) refresh=yes ;;
    --arch=armhf|--arch=arm64) ARCH=${a#--arch=} ;;
    --arch=*) die "--arch: unknown guest architecture '${a#--arch=}' (armhf or arm64)" ;;
    -h|--help) sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$a'" ;;
    esac
done

if [ $ARCH = armhf ]; then
    GUEST=$BUILD/guest
    CROSS=${CROSS:-arm-linux-gnueabihf-}
    CROSS_PKG=gcc-arm-linux-gnueabihf
    FLAVOURS="armmp armmp-lpae"
    CFLAGS="-O2 -g0 -Wall -Wextra -Werror -Wno-unused-parameter -static -march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard"
else
    GUEST=$BUILD/guest/arm64
    CROSS=${CROSS:-aarch64-linux-gnu-}
    CROSS_PKG=gcc-aarch64-linux-gnu
    FLAVOURS="arm64"
    CFLAGS="-O2 -g0 -Wall -Wextra -Werror -Wno-unused-parameter -static -march=armv8-a"
fi

mkdir -p "$GUEST/debs" "$GUEST/progs"

apt_ready=no
arch_apt() {
    if [ $apt_ready = no ]; then
        command -v apt-get >/dev/null || die "apt-get is needed to fetch the Debian $ARCH guest packages"
        apt_private_init "$BUILD/apt-$ARCH" $ARCH || die "cannot set up private $ARCH apt state"
        note "guest: updating the private $ARCH package lists"
        if ! apt_private apt-get -q update > "$BUILD/apt-$ARCH/update.log" 2>&1; then
            warn "apt-get update ($ARCH) reported errors, see build/apt-$ARCH/update.log; using the indexes it got"
        fi
        apt_ready=yes
    fi
    apt_private "$@"
}

# Download a binary package ($ARCH) into $GUEST/debs, once.
fetch_deb() {
    local pkg=$1 f
    f=$(find "$GUEST/debs" -maxdepth 1 -name "${pkg}_*_$ARCH.deb" | sort -V | tail -n 1)
    if [ -n "$f" ] && [ $refresh = no ]; then
        echo "$f"
        return
    fi
    (cd "$GUEST/debs" && arch_apt apt-get -q download "$pkg" > "$GUEST/debs/$pkg.log" 2>&1) ||
        { cat "$GUEST/debs/$pkg.log" >&2; die "apt-get download $pkg ($ARCH) failed"; }
    f=$(find "$GUEST/debs" -maxdepth 1 -name "${pkg}_*_$ARCH.deb" | sort -V | tail -n 1)
    [ -n "$f" ] || die "apt-get download $pkg left no .deb"
    echo "$f"
}

# ---- kernels ---------------------------------------------------------
for fl in $FLAVOURS; do
    if [ -f "$GUEST/vmlinuz-$fl" ] && [ $refresh = no ]; then
        continue
    fi
    pkg=$(arch_apt apt-cache depends "linux-image-$fl" 2>/dev/null |
          sed -n "s/^ *Depends: \(linux-image-[0-9].*-$fl\)$/\1/p" | head -n 1)
    [ -n "$pkg" ] || die "cannot resolve linux-image-$fl to a kernel package ($ARCH)"
    note "guest: $fl kernel is $pkg"
    deb=$(fetch_deb "$pkg")
    tmp=$(mktemp -d)
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./boot
    vmlinuz=$(find "$tmp/boot" -name 'vmlinuz-*' | head -n 1)
    [ -n "$vmlinuz" ] || die "$deb has no /boot/vmlinuz-*"
    cp "$vmlinuz" "$GUEST/vmlinuz-$fl.new"
    cp "$tmp"/boot/config-* "$GUEST/config-$fl"
    echo "$pkg $(dpkg-deb -f "$deb" Version)" > "$GUEST/kernel-$fl.txt"
    mv "$GUEST/vmlinuz-$fl.new" "$GUEST/vmlinuz-$fl"
    rm -rf "$tmp"
done

# ---- busybox ---------------------------------------------------------
if [ ! -x "$GUEST/busybox" ] || [ $refresh = yes ]; then
    deb=$(fetch_deb busybox-static)
    tmp=$(mktemp -d)
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./bin/busybox
    mv "$tmp/bin/busybox" "$GUEST/busybox"
    rm -rf "$tmp"
fi

# ---- our guest programs ----------------------------------------------
command -v "${CROSS}gcc" >/dev/null ||
    die "${CROSS}gcc not found; install with: apt-get install $CROSS_PKG (or run scripts/install-deps.sh)"
progs=()
names=()
# prog SOURCE NAME COMPILER FLAGS...: build one guest program, if stale.
prog() {
    local c=$1 n=$2 cc=$3 out=$GUEST/progs/$2 stale= h
    shift 3
    for h in "$SRCDIR"/tests/guest/progs/*.h; do
        [ "$h" -nt "$out" ] && stale=1
    done
    if [ ! -x "$out" ] || [ "$c" -nt "$out" ] || [ "$0" -nt "$out" ] || [ -n "$stale" ]; then
        "$cc" "$@" -o "$out.tmp" "$c" -lpthread
        mv "$out.tmp" "$out"
    fi
    progs+=("file:tests/$n=$out:755")
    names+=("$n")
}
for c in "$SRCDIR"/tests/guest/progs/*.c; do
    # shellcheck disable=SC2086
    prog "$c" "$(basename "$c" .c)" "${CROSS}gcc" $CFLAGS
done
if [ $ARCH = arm64 ]; then
    # AArch32 processes under the AArch64 kernel (COMPAT): the armhf
    # builds of two programs, as NAME32.
    command -v arm-linux-gnueabihf-gcc >/dev/null ||
        die "arm-linux-gnueabihf-gcc not found; install with: apt-get install gcc-arm-linux-gnueabihf (or run scripts/install-deps.sh)"
    for n in memtest workload; do
        prog "$SRCDIR/tests/guest/progs/$n.c" "${n}32" arm-linux-gnueabihf-gcc \
            -O2 -g0 -Wall -Wextra -Werror -Wno-unused-parameter -static \
            -march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard
    done
fi

# ---- bare-metal test images ------------------------------------------
# No kernel, no libc: they drive the MMU themselves (tests/bare/ for
# AArch32, tests/bare64/ for AArch64).
# bare_images DIR CFLAGS DEPS...: each DIR/*.c with DIR/start.S and the
# linker script DIR/*.ld into $GUEST/bare/NAME.elf, when older than any
# of its inputs or DEPS.
bare_images() {
    local dir=$1 flags=$2 c n out d stale ld
    shift 2
    ld=$(echo "$dir"/*.ld)
    mkdir -p "$GUEST/bare"
    for c in "$dir"/*.c; do
        n=$(basename "$c" .c)
        out=$GUEST/bare/$n.elf
        stale=
        [ -f "$out" ] || stale=1
        for d in "$c" "$0" "$dir/start.S" "$ld" "$@"; do
            [ "$d" -nt "$out" ] && stale=1
        done
        if [ -n "$stale" ]; then
            # shellcheck disable=SC2086
            "${CROSS}gcc" $flags -T "$ld" -o "$out.tmp" "$dir/start.S" "$c"
            mv "$out.tmp" "$out"
        fi
    done
}
if [ $ARCH = arm64 ]; then
    bare_images "$SRCDIR/tests/bare64" \
        "-O2 -g0 -Wall -Wextra -Werror -Wmissing-prototypes -ffreestanding -fno-builtin
         -nostdlib -nostartfiles -static -mgeneral-regs-only -mstrict-align
         -Wl,--build-id=none -Wl,--no-warn-rwx-segments" \
        "$SRCDIR/tests/bare64/bare64.h" "$SRCDIR/tests/bare/uart.h"
else
    bare_images "$SRCDIR/tests/bare" \
        "-O2 -g0 -Wall -Wextra -Werror -Wmissing-prototypes -marm -mcpu=cortex-a15
         -mfloat-abi=soft -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns
         -nostdlib -nostartfiles -static -Wl,--build-id=none" \
        "$SRCDIR/tests/bare/bare.h" "$SRCDIR/tests/bare/uart.h"
fi

# ---- initramfs -------------------------------------------------------
python3 "$SRCDIR/tests/guest/mkcpio.py" "$GUEST/initramfs.cpio.gz.new" \
    dir:proc dir:sys dir:dev dir:tmp dir:root dir:etc dir:sbin dir:usr/bin dir:usr/sbin \
    cdev:dev/console=5,1 cdev:dev/null=1,3 \
    "file:bin/busybox=$GUEST/busybox:755" link:bin/sh=busybox \
    "file:init=$SRCDIR/tests/guest/init:755" \
    "${progs[@]}"
if cmp -s "$GUEST/initramfs.cpio.gz.new" "$GUEST/initramfs.cpio.gz"; then
    rm -f "$GUEST/initramfs.cpio.gz.new"
else
    mv "$GUEST/initramfs.cpio.gz.new" "$GUEST/initramfs.cpio.gz"
fi
for fl in $FLAVOURS; do
    note "guest: ${GUEST#"$SRCDIR"/}/vmlinuz-$fl ($(cat "$GUEST/kernel-$fl.txt"))"
done
note "guest: ${GUEST#"$SRCDIR"/}/initramfs.cpio.gz ($(du -k "$GUEST/initramfs.cpio.gz" | cut -f1) KiB, tests: ${names[*]})"
