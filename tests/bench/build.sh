#!/usr/bin/env bash
#
# Build the benchmark guest image: Debian armhf packages (perl, bzip2,
# gcc's cc1, gnugo, sjeng, Xalan-C, python3, sqlite3 and everything they
# depend on) unpacked into build/bench/rootfs, plus generated inputs, our
# kernel-heavy programs, one script per workload, busybox and the test
# /init.  Packed as an uncompressed initramfs (faster to unpack in the
# guest than a gzipped one) in build/bench/bench.cpio.
#
# The same rootfs serves qemu-arm user mode (-L build/bench/rootfs), so
# both modes run the same binaries on the same inputs.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -eu -o pipefail
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRCDIR/scripts/lib/common.sh"

BENCH=$BUILD/bench
ROOTFS=$BENCH/rootfs
GUEST=$BUILD/guest
CROSS=${CROSS:-arm-linux-gnueabihf-}
PACKAGES="perl bzip2 cpp-12 gnugo sjeng xalan python3 sqlite3 lua5.4 luajit coreutils sed gawk"

"$SRCDIR/tests/guest/build.sh" >/dev/null   # kernels, busybox

mkdir -p "$BENCH/debs" "$BENCH/src"

# ---- Debian packages and their dependency closure --------------------
stamp="$PACKAGES $(sha256sum "$0" | cut -c1-16)"
if [ "$(cat "$BENCH/rootfs.stamp" 2>/dev/null)" != "$stamp" ]; then
    note "bench: resolving and fetching $PACKAGES (armhf) with their dependencies"
    apt_private_init "$BUILD/apt-armhf" armhf || die "cannot set up private armhf apt state"
    apt_private apt-get -q update > "$BENCH/apt-update.log" 2>&1 ||
        warn "apt-get update (armhf) reported errors, see build/bench/apt-update.log"
    # An empty dpkg status: apt resolves the whole closure for an empty
    # armhf system; nothing is installed, only downloaded.
    # shellcheck disable=SC2086
    if ! apt_private apt-get -q install --download-only -y --no-install-recommends \
            -o Debug::NoLocking=1 -o Dir::Cache::archives="$BENCH/debs" \
            $PACKAGES > "$BENCH/apt-download.log" 2>&1; then
        tail -n 5 "$BENCH/apt-download.log" >&2
        die "could not download the benchmark packages (log: build/bench/apt-download.log)"
    fi
    rm -rf "$ROOTFS"
    mkdir -p "$ROOTFS"
    for d in "$BENCH"/debs/*.deb; do
        dpkg-deb -x "$d" "$ROOTFS"
    done
    # Documentation, manuals and translations are not run.
    rm -rf "$ROOTFS"/usr/share/{doc,man,info,locale,lintian,bug}
    ls "$BENCH"/debs/*.deb | sed 's|.*/||' > "$BENCH/packages.txt"
    echo "$stamp" > "$BENCH/rootfs.stamp"
fi

# ---- gcc input: Debian's bzip2 sources, preprocessed for armhf -------
if [ ! -f "$BENCH/src/decompress.i" ]; then
    note "bench: fetching the bzip2 source package for the gcc workload's input"
    apt_private_init "$BUILD/apt-src" src || die "cannot set up private apt state"
    apt_private apt-get -q update > "$BENCH/apt-src-update.log" 2>&1 ||
        warn "apt-get update (sources) reported errors"
    rm -rf "$BENCH/src.tmp" && mkdir -p "$BENCH/src.tmp"
    (cd "$BENCH/src.tmp" && apt_private apt-get -q source --download-only bzip2) \
        > "$BENCH/src.log" 2>&1 || die "apt-get source bzip2 failed (log: build/bench/src.log)"
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
CFLAGS="-O2 -Wall -Wextra -Werror -static -march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard"
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
python3 - "$SRCDIR" "$ROOTFS/tests" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "tests", "bench"))
import workloads
for scale in ("full", "tiny"):
    for w in workloads.workloads(scale):
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
note "bench: build/bench/bench.cpio ($(du -m "$BENCH/bench.cpio" | cut -f1) MiB, $(wc -l < "$BENCH/packages.txt") Debian packages)"
