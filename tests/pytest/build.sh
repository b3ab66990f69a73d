#!/usr/bin/env bash
#
# Build the CPython conformance image: Debian's armhf python3.11 and
# everything it depends on, the test modules of libpython3.11-testsuite
# that tests/pytest/tests.txt names (with the files they need, and
# regrtest), busybox, the test /init and /tests/cpython.  Packed as an
# uncompressed initramfs, like the benchmark image, in
# build/pytest/pytest.cpio; tests/test_python.py boots it.
#
# Packages are fetched as tests/bench/build.sh fetches its own: apt
# through the machine's own sources, private state (build/pytest/apt-armhf),
# an empty dpkg status, download only.  Both steps are stamped: the
# packages are fetched again only when the package list or this script
# changes, the image rebuilt only when one of its inputs does.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -eu -o pipefail
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRCDIR/scripts/lib/common.sh"

OUT=$BUILD/pytest
ROOTFS=$OUT/rootfs
HERE=$SRCDIR/tests/pytest
GUEST=$BUILD/guest
PACKAGES="python3.11 libpython3.11-testsuite"
PYLIB=usr/lib/python3.11

"$SRCDIR/tests/guest/build.sh" >/dev/null   # kernels, busybox

mkdir -p "$OUT/debs"

# ---- Debian packages and their dependency closure --------------------
stamp="$PACKAGES $(sha256sum "$0" | cut -c1-16)"
if [ "$(cat "$OUT/debs.stamp" 2>/dev/null)" != "$stamp" ]; then
    note "pytest: resolving and fetching $PACKAGES (armhf) with their dependencies"
    apt_private_init "$OUT/apt-armhf" armhf || die "cannot set up private armhf apt state"
    apt_private apt-get -q update > "$OUT/apt-update.log" 2>&1 ||
        warn "apt-get update (armhf) reported errors, see build/pytest/apt-update.log"
    rm -f "$OUT"/debs/*.deb
    # shellcheck disable=SC2086
    if ! apt_private apt-get -q install --download-only -y --no-install-recommends \
            -o Debug::NoLocking=1 -o Dir::Cache::archives="$OUT/debs" \
            $PACKAGES > "$OUT/apt-download.log" 2>&1; then
        tail -n 5 "$OUT/apt-download.log" >&2
        die "could not download the CPython test packages (log: build/pytest/apt-download.log)"
    fi
    ls "$OUT"/debs/*.deb | sed 's|.*/||' > "$OUT/packages.txt"
    echo "$stamp" > "$OUT/debs.stamp"
fi

# ---- the image's inputs ----------------------------------------------
# The test modules and what they need, from tests.txt.
modules=()
keep=(test/__init__.py test/__main__.py test/support test/libregrtest)
while read -r mod extra; do
    [ -n "$mod" ] || continue
    modules+=("$mod")
    keep+=("test/$mod.py" "test/$mod")
    # shellcheck disable=SC2206
    keep+=($extra)
done < <(sed 's/#.*//' "$HERE/tests.txt")
[ ${#modules[@]} -gt 0 ] || die "tests/pytest/tests.txt names no test module"

# Bytecode: compiled on the host when its python3.11 is the guest's
# version (the same compiler; .pyc files are not architecture-specific),
# so the guest does not compile every module on every boot.
pyver=$(sed -n 's/^python3\.11-minimal_\([0-9.]*\)-.*/\1/p' "$OUT/packages.txt")
hostpy=
for p in /usr/bin/python3.11 python3.11; do
    if [ "$("$p" -c 'import platform; print(platform.python_version())' 2>/dev/null)" = "$pyver" ]; then
        hostpy=$(command -v "$p")
        break
    fi
done

istamp=$( { echo "$stamp $hostpy"; cat "$OUT/packages.txt"; sha256sum "$GUEST/busybox";
            cat "$HERE"/{tests.txt,ignore.txt,cpython,regrtest.py} "$SRCDIR/tests/guest/init" \
                "$SRCDIR/tests/guest/mkcpio.py"; } | sha256sum | cut -c1-16)
if [ -f "$OUT/pytest.cpio" ] && [ "$(cat "$OUT/pytest.stamp" 2>/dev/null)" = "$istamp" ]; then
    note "pytest: build/pytest/pytest.cpio is up to date"
    exit 0
fi

# ---- root file system ------------------------------------------------
rm -rf "$ROOTFS" "$OUT/testsuite"
mkdir -p "$ROOTFS" "$OUT/testsuite"
for d in "$OUT"/debs/*.deb; do
    case $(basename "$d") in
    libpython3.11-testsuite_*) dpkg-deb -x "$d" "$OUT/testsuite" ;;
    # Only installing needs dpkg (and the tar it pre-depends on); only
    # test_uuid, which does not run, needs net-tools.
    dpkg_*|tar_*|net-tools_*) ;;
    *) dpkg-deb -x "$d" "$ROOTFS" ;;
    esac
done
# Documentation, manuals and translations are not run.
rm -rf "$ROOTFS"/usr/share/{doc,man,info,locale,lintian,bug}
# Of the test suite only what the chosen modules need.
for k in "${keep[@]}"; do
    if [ -e "$OUT/testsuite/$PYLIB/$k" ]; then
        mkdir -p "$(dirname "$ROOTFS/$PYLIB/$k")"
        cp -a "$OUT/testsuite/$PYLIB/$k" "$ROOTFS/$PYLIB/$k"
    fi
done
for m in "${modules[@]}"; do
    [ -e "$ROOTFS/$PYLIB/test/$m.py" ] || [ -d "$ROOTFS/$PYLIB/test/$m" ] ||
        die "libpython3.11-testsuite has no test module $m (tests/pytest/tests.txt)"
done
rm -rf "$OUT/testsuite"
ln -sfn python3.11 "$ROOTFS/usr/bin/python3"
if [ -n "$hostpy" ]; then
    # unchecked-hash: the cpio's files have no mtimes to check against.
    "$hostpy" -m compileall -q -j 0 --invalidation-mode unchecked-hash \
        -s "$ROOTFS" -p / "$ROOTFS/$PYLIB" > "$OUT/compileall.log" 2>&1 || true
else
    warn "no host python3.11 $pyver: the guest compiles the modules it imports on every boot"
fi

mkdir -p "$ROOTFS"/{bin,etc,proc,sys,dev,tmp,root,tests,cpython}
printf '%s\n' "${modules[@]}" > "$ROOTFS/cpython/tests"
sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$HERE/ignore.txt" > "$ROOTFS/cpython/ignore"
cp "$HERE/regrtest.py" "$ROOTFS/cpython/regrtest.py"
install -m 755 "$HERE/cpython" "$ROOTFS/tests/cpython"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    > "$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOTFS/etc/group"
# 'localhost' for the socket tests, from /etc/hosts alone (no DNS).
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOTFS/etc/hosts"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$ROOTFS/etc/nsswitch.conf"
cp "$GUEST/busybox" "$ROOTFS/bin/busybox"
ln -sfn busybox "$ROOTFS/bin/sh"
cp "$SRCDIR/tests/guest/init" "$ROOTFS/init"

python3 "$SRCDIR/tests/guest/mkcpio.py" "$OUT/pytest.cpio.new" \
    "tree:/=$ROOTFS" cdev:dev/console=5,1 cdev:dev/null=1,3
mv "$OUT/pytest.cpio.new" "$OUT/pytest.cpio"
echo "$istamp" > "$OUT/pytest.stamp"
note "pytest: build/pytest/pytest.cpio ($(du -m "$OUT/pytest.cpio" | cut -f1) MiB, ${#modules[@]} CPython test modules, $(wc -l < "$OUT/packages.txt") Debian packages)"
