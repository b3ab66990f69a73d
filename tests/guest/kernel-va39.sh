#!/usr/bin/env bash
#
# Build the 39-bit VA arm64 guest kernel (build/guest/arm64/vmlinuz-arm64-va39):
# the address-space layout of Android's GKI kernels (4 KiB pages, three
# levels, 512 GiB of user space), which Debian does not ship.  It is built
# from Debian's own source of the 48-bit kernel the arm64 guest boots
# (linux-source-X.Y of the same version, through the private arm64 apt
# state) with Debian's configuration of that kernel, changed only where
# it must be:
#
#   ARM64_VA_BITS_39        the point of it
#   no modules              every '=m' option off, MODULES off: the guest
#                           boots an initramfs and loads nothing
#   no platform selections  arch/arm64/Kconfig.platforms: -M virt needs none
#   no drivers of hardware  Xen, ACPI, KVM, netfilter, wireless, Ethernet,
#     the guest lacks       MD, IOMMUs, USB, MMC, framebuffers, I2C, SPI,
#                           hwmon, thermal, watchdogs, power supplies,
#                           staging (the guest has an initramfs, a PL011
#                           and no devices; -M virt boots it from its DT)
#   no debug info, no BTF   not needed, and half the build time
#   no trusted key files    they are not in the source tarball
#   nothing the tests never  security modules and audit, IPv4/IPv6 and
#     reach, to halve the    their protocols (Unix sockets stay), PCI,
#     build (CI's clock)     EFI, io_uring, BPF, ftrace, kexec and crash
#                            dumps, hibernation, cpufreq, EDAC, fs-verity
#                            and fscrypt: the guest's programs use none
#                            of these, and none changes how user memory
#                            is mapped, protected or flushed
#
# Everything that decides how user memory is mapped and flushed (KPTI,
# KASLR, PAN, ASIDs, COMPAT, THP always, hugetlbfs, memcg, NUMA, swap,
# HZ, preemption, perf and hardware breakpoints) is Debian's, so for
# what the tests check the two arm64 guests differ in their VA size
# alone.  Cached: rebuilt only when the 48-bit kernel's version or this
# recipe changes.  A cold build takes 7-9 minutes on two cores.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -eu -o pipefail
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRCDIR/scripts/lib/common.sh"
. "$SRCDIR/scripts/lib/apt-private.sh"

# Bump when the configuration below changes: the cache is rebuilt.
RECIPE=2
GUEST=$BUILD/guest/arm64
WORK=$BUILD/kernel-va39
OUT=$GUEST/vmlinuz-arm64-va39
CROSS=${CROSS:-aarch64-linux-gnu-}

for a in "$@"; do
    case $a in
    -h|--help) sed -n '3,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$a'" ;;
    esac
done

if [ ! -f "$GUEST/kernel-arm64.txt" ] || [ ! -f "$GUEST/config-arm64" ]; then
    die "no 48-bit arm64 guest kernel to match: run 'tests/guest/build.sh --arch=arm64' first"
fi
read -r _ ver < "$GUEST/kernel-arm64.txt"
series=$(echo "$ver" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
[ -n "$series" ] || die "cannot read the kernel version from $GUEST/kernel-arm64.txt"
want="linux-source-$series $ver, ARM64_VA_BITS_39, recipe $RECIPE"
if [ -f "$OUT" ] && [ "$(head -n 1 "$GUEST/kernel-arm64-va39.txt" 2>/dev/null)" = "$want" ]; then
    exit 0
fi

command -v "${CROSS}gcc" >/dev/null ||
    die "${CROSS}gcc not found; install with: apt-get install gcc-aarch64-linux-gnu (or run scripts/install-deps.sh)"
for t in make bc bison flex; do
    command -v $t >/dev/null || die "$t not found (needed to build a kernel); run scripts/install-deps.sh"
done

mkdir -p "$WORK"
src=$WORK/linux-source-$series
if [ "$(cat "$src/.espt-version" 2>/dev/null)" != "$ver" ]; then
    deb=$WORK/linux-source-${series}_${ver}_all.deb
    if [ ! -f "$deb" ]; then
        apt_private_init "$BUILD/apt-arm64" arm64 || die "cannot set up private arm64 apt state"
        note "guest: fetching Debian's linux-source-$series $ver"
        if [ ! -d "$BUILD/apt-arm64/lists" ] || [ -z "$(ls "$BUILD/apt-arm64/lists" 2>/dev/null)" ]; then
            apt_private apt-get -q update > "$WORK/update.log" 2>&1 ||
                warn "apt-get update (arm64) reported errors, see build/kernel-va39/update.log"
        fi
        rm -f "$WORK"/linux-source-*.deb
        (cd "$WORK" && apt_private apt-get -q download "linux-source-$series=$ver") \
            > "$WORK/download.log" 2>&1 || {
            tail -n 5 "$WORK/download.log" >&2
            die "apt-get download linux-source-$series=$ver failed: the 48-bit kernel is $ver; 'tests/guest/build.sh --arch=arm64 --refresh' moves both to what the archive has"
        }
    fi
    note "guest: unpacking linux-source-$series $ver"
    rm -rf "$src" "$src.tmp" && mkdir -p "$src.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/linux-source-$series.tar.xz" |
        tar -xJ -C "$src.tmp" --strip-components=1
    echo "$ver" > "$src.tmp/.espt-version"
    mv "$src.tmp" "$src"
fi

kmake() {
    make -C "$src" ARCH=arm64 CROSS_COMPILE="$CROSS" \
        KBUILD_BUILD_TIMESTAMP="$ver" KBUILD_BUILD_USER=qemu-espt KBUILD_BUILD_HOST=build \
        ${CCACHE:+CC="$CCACHE ${CROSS}gcc"} "$@"
}
CCACHE=$(command -v ccache || true)

# Debian's configuration, changed as the header says.
cp "$GUEST/config-arm64" "$src/.config"
sed -i 's/^\(CONFIG_[A-Za-z0-9_]*\)=m$/# \1 is not set/' "$src/.config"
mapfile -t platforms < <(sed -n 's/^config \(ARCH_[A-Z0-9_]*\)$/\1/p' \
                              "$src/arch/arm64/Kconfig.platforms")
off=(ARM64_VA_BITS_48 MODULES DEBUG_INFO DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT
     DEBUG_INFO_BTF XEN ACPI VIRTUALIZATION KVM NETFILTER WIRELESS WLAN ETHERNET
     MD IOMMU_SUPPORT USB_SUPPORT MMC FB I2C SPI HWMON THERMAL WATCHDOG
     POWER_SUPPLY STAGING "${platforms[@]}"
     SECURITY AUDIT INTEGRITY IMA EVM INET IPV6 MPTCP NET_SCHED XFRM NETLABEL
     PCI EFI IO_URING BPF_SYSCALL FTRACE KEXEC KEXEC_FILE CRASH_DUMP HIBERNATION
     CPU_FREQ EDAC FS_VERITY FS_ENCRYPTION)
args=()
for o in "${off[@]}"; do args+=(-d "$o"); done
"$src/scripts/config" --file "$src/.config" -e ARM64_VA_BITS_39 -e DEBUG_INFO_NONE \
    --set-str SYSTEM_TRUSTED_KEYS "" --set-str SYSTEM_REVOCATION_KEYS "" \
    --set-str LOCALVERSION "-va39" "${args[@]}"
kmake -s olddefconfig > "$WORK/config.log" 2>&1 ||
    { tail -n 20 "$WORK/config.log" >&2; die "make olddefconfig failed"; }
for need in CONFIG_ARM64_VA_BITS=39 '# CONFIG_MODULES is not set' CONFIG_COMPAT=y \
            CONFIG_UNMAP_KERNEL_AT_EL0=y CONFIG_ARM64_PAN=y CONFIG_BLK_DEV_INITRD=y \
            CONFIG_SERIAL_AMBA_PL011_CONSOLE=y CONFIG_TRANSPARENT_HUGEPAGE=y \
            CONFIG_HUGETLBFS=y CONFIG_PERF_EVENTS=y CONFIG_HAVE_HW_BREAKPOINT=y \
            CONFIG_UNIX=y CONFIG_SHMEM=y CONFIG_CROSS_MEMORY_ATTACH=y; do
    grep -qx -- "$need" "$src/.config" || die "kernel configuration lacks '$need' (build/kernel-va39)"
done

jobs=$(nproc)
note "guest: building the 39-bit VA arm64 kernel ($jobs jobs; 7-9 min on two cores, once; log: build/kernel-va39/build.log)"
start=$(date +%s)
kmake -j"$jobs" Image > "$WORK/build.log" 2>&1 &
pid=$!
# Progress on a long wait: every minute, how many objects are built.
while kill -0 $pid 2>/dev/null; do
    for _ in $(seq 60); do
        kill -0 $pid 2>/dev/null || break
        sleep 1
    done
    kill -0 $pid 2>/dev/null &&
        note "guest: kernel build $(( ($(date +%s) - start) / 60 )) min, $(grep -c '^  CC ' "$WORK/build.log") files compiled"
done
wait $pid || { tail -n 30 "$WORK/build.log" >&2; die "kernel build failed (log: build/kernel-va39/build.log)"; }
secs=$(( $(date +%s) - start ))
cp "$src/arch/arm64/boot/Image" "$OUT.new"
cp "$src/.config" "$GUEST/config-arm64-va39"
{
    echo "$want"
    echo "built in $secs s with $jobs jobs$([ -n "$CCACHE" ] && echo ' (ccache)') on $(date -u +%F)"
} > "$GUEST/kernel-arm64-va39.txt"
mv "$OUT.new" "$OUT"
note "guest: build/guest/arm64/vmlinuz-arm64-va39 built in $((secs / 60)) min $((secs % 60)) s"
