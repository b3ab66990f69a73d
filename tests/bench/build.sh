#!/usr/bin/env bash
#
# Build the benchmark guest image: Debian armhf packages (perl, bzip2,
# gcc's cc1, gnugo, sjeng, Xalan-C, python3, sqlite3 and everything they
# depend on) unpacked into build/bench/rootfs, plus generated inputs, our
# kernel-heavy programs, one script per workload, busybox and the test
# /init.  Packed as an uncompressed initramfs (faster to unpack in the
# guest than a gzipped one) in build/bench/bench.cpio.
#
# With --arch=arm64, the same for the arm64 guest (qemu-system-aarch64,
# 10.0 on): Debian arm64 packages of the same list, programs built with
# aarch64-linux-gnu-gcc and the arm64 busybox, in build/bench/arm64/
# (rootfs, bench.cpio).
#
# The same rootfs serves qemu-arm (qemu-aarch64) user mode
# (-L build/bench/rootfs, build/bench/arm64/rootfs), so both modes run
# the same binaries on the same inputs.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -eu -o pipefail
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRCDIR/scripts/lib/common.sh"

ARCH=armhf
for a in "$@"; do
    case $a in
    --arch=armhf|--arch=arm64) ARCH=${a#--arch=} ;;
    --arch=*) die "--arch: unknown guest architecture '${a#--arch=}' (armhf or arm64)" ;;
    -h|--help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$a'" ;;
    esac
done

if [ "$ARCH" = armhf ]; then
    BENCH=$BUILD/bench
    GUEST=$BUILD/guest
    CROSS=${CROSS:-arm-linux-gnueabihf-}
    CFLAGS="-O2 -Wall -Wextra -Werror -static -march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard"
    GUEST_ARGS=()
else
    BENCH=$BUILD/bench/arm64
    GUEST=$BUILD/guest/arm64
    CROSS=${CROSS:-aarch64-linux-gnu-}
    CFLAGS="-O2 -Wall -Wextra -Werror -static -march=armv8-a"
    GUEST_ARGS=(--arch=arm64)
fi
ROOTFS=$BENCH/rootfs
REL=${BENCH#"$SRCDIR"/}
PACKAGES="perl bzip2 cpp-12 gnugo sjeng xalan python3 sqlite3 lua5.4 luajit coreutils sed gawk"

command -v "${CROSS}gcc" >/dev/null || die "${CROSS}gcc is missing (the $ARCH cross compiler)"
"$SRCDIR/tests/guest/build.sh" "${GUEST_ARGS[@]}" >/dev/null   # kernels, busybox

mkdir -p "$BENCH/debs" "$BENCH/src"

# ---- Debian packages and their dependency closure --------------------
stamp="$ARCH $PACKAGES $(sha256sum "$0" | cut -c1-16)"
if [ "$(cat "$BENCH/rootfs.stamp" 2>/dev/null)" != "$stamp" ]; then
    note "bench: resolving and fetching $PACKAGES ($ARCH) with their dependencies"
    apt_private_init "$BUILD/apt-$ARCH" "$ARCH" || die "cannot set up private $ARCH apt state"
    apt_private apt-get -q update > "$BENCH/apt-update.log" 2>&1 ||
        warn "apt-get update ($ARCH) reported errors, see $REL/apt-update.log"
    # An empty dpkg status: apt resolves the whole closure for an empty
    # $ARCH system; nothing is installed, only downloaded.
    # shellcheck disable=SC2086
    if ! apt_private apt-get -q install --download-only -y --no-install-recommends \
            -o Debug::NoLocking=1 -o Dir::Cache::archives="$BENCH/debs" \
            $PACKAGES > "$BENCH/apt-download.log" 2>&1; then
        tail -n 5 "$BENCH/apt-download.log" >&2
        die "could not download the benchmark packages ($ARCH, log: $REL/apt-download.log)"
    fi
    # The closure's exact .debs (apt's file names: NAME_VERSION_ARCH.deb,
    # an epoch's ':' as %3a): the cache also holds the versions of earlier
    # builds, which must be neither unpacked nor kept.
    # shellcheck disable=SC2086
    apt_private apt-get -q -s install --no-install-recommends -o Debug::NoLocking=1 \
            $PACKAGES 2>&1 | awk '/^Inst / {
        n = $2; sub(/:.*/, "", n); v = $3; sub(/^\(/, "", v); gsub(/:/, "%3a", v)
        if (match($0, /\[[^]]+\]\)/)) print n "_" v "_" substr($0, RSTART + 1, RLENGTH - 3) ".deb"
    }' > "$BENCH/packages.txt.new"
    [ -s "$BENCH/packages.txt.new" ] || die "apt resolved no packages ($ARCH)"
    while read -r d; do
        [ -f "$BENCH/debs/$d" ] || die "apt-get left no $d (log: $REL/apt-download.log)"
    done < "$BENCH/packages.txt.new"
    for d in "$BENCH"/debs/*.deb; do
        grep -qxF "${d##*/}" "$BENCH/packages.txt.new" || rm -f "$d"
    done
    rm -rf "$ROOTFS"
    mkdir -p "$ROOTFS"
    while read -r d; do
        dpkg-deb -x "$BENCH/debs/$d" "$ROOTFS"
    done < "$BENCH/packages.txt.new"
    # Documentation, manuals and translations are not run.
    rm -rf "$ROOTFS"/usr/share/{doc,man,info,locale,lintian,bug}
    mv "$BENCH/packages.txt.new" "$BENCH/packages.txt"
    echo "$stamp" > "$BENCH/rootfs.stamp"
fi

# ---- gcc input: Debian's bzip2 sources, preprocessed for $ARCH -------
if [ ! -f "$BENCH/src/decompress.i" ]; then
    note "bench: fetching the bzip2 source package for the gcc workload's input"
    apt_private_init "$BUILD/apt-src" src || die "cannot set up private apt state"
    apt_private apt-get -q update > "$BENCH/apt-src-update.log" 2>&1 ||
        warn "apt-get update (sources) reported errors"
    rm -rf "$BENCH/src.tmp" && mkdir -p "$BENCH/src.tmp"
    (cd "$BENCH/src.tmp" && apt_private apt-get -q source --download-only bzip2) \
        > "$BENCH/src.log" 2>&1 || die "apt-get source bzip2 failed (log: $REL/src.log)"
    tar -xf "$BENCH"/src.tmp/bzip2_*.orig.tar.* -C "$BENCH/src.tmp"
    for f in decompress huffman; do
        "${CROSS}gcc" -E -P -D_FILE_OFFSET_BITS=64 "$BENCH"/src.tmp/bzip2-*/$f.c \
            -o "$BENCH/src/$f.i"
    done
    rm -rf "$BENCH/src.tmp"
fi

# ---- our files: inputs, programs, workload scripts, init -------------
rm -rf "$ROOTFS/bench" "$ROOTFS/tests"
mkdir -p "$ROOTFS/bench/in" "$ROOTFS/bench/bin" "$ROOTFS/tests" \
         "$ROOTFS"/{proc,sys,dev,tmp,root}
python3 "$SRCDIR/tests/bench/gen_inputs.py" "$ROOTFS/bench/in"
cp "$BENCH"/src/*.i "$ROOTFS/bench/in/"
for c in "$SRCDIR"/tests/bench/progs/*.c; do
    n=$(basename "$c" .c)
    out=$BENCH/progs/$n
    mkdir -p "$BENCH/progs"
    if [ ! -x "$out" ] || [ "$c" -nt "$out" ]; then
        # shellcheck disable=SC2086
        "${CROSS}gcc" $CFLAGS -o "$out" "$c"
    fi
    cp "$out" "$ROOTFS/bench/bin/"
done
python3 - "$SRCDIR" "$ROOTFS/tests" "$ARCH" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "tests", "bench"))
import workloads
for scale in ("full", "tiny"):
    for w in workloads.workloads(scale, isa=sys.argv[3]):
        name = w.name if scale == "full" else w.name + "-tiny"
        path = os.path.join(sys.argv[2], name)
        with open(path, "w") as f:
            f.write(workloads.guest_script(w))
        os.chmod(path, 0o755)
EOF
# Programs that look up their home directory (sjeng) need a passwd entry.
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ROOTFS/etc/passwd"
printf 'root:x:0:\n' > "$ROOTFS/etc/group"
cp "$GUEST/busybox" "$ROOTFS/bin/busybox"
ln -sfn busybox "$ROOTFS/bin/sh"
cp "$SRCDIR/tests/guest/init" "$ROOTFS/init"

python3 "$SRCDIR/tests/guest/mkcpio.py" "$BENCH/bench.cpio.new" \
    "tree:/=$ROOTFS" cdev:dev/console=5,1 cdev:dev/null=1,3
mv "$BENCH/bench.cpio.new" "$BENCH/bench.cpio"
note "bench: $REL/bench.cpio ($ARCH, $(du -m "$BENCH/bench.cpio" | cut -f1) MiB, $(wc -l < "$BENCH/packages.txt") Debian packages)"
