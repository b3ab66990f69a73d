# shellcheck shell=bash
# Helpers shared by ./configure and scripts/*.  Expects SRCDIR to be set.
#
# SPDX-License-Identifier: GPL-2.0-or-later

BUILD=$SRCDIR/build

# The upstream bases we carry the series on, and the one a plain
# ./configure picks.  Each base builds in build/<base>/ (its own upstream
# cache, private apt state, tools, tree and build directory), so switching
# between them rebuilds nothing; build/src and build/obj point at the
# configured one.
BASES="7.2 10.0"
DEFAULT_BASE=10.0

# espt_base BASE: select a base; sets the per-base parameters.
#   BB           build/<base>
#   TREE, OBJ    assembled tree (git) and upstream's build directory
#   PATCHES      patches/<base>
#   BASE_DEBVER  glob of the Debian source versions that are this base
#   BASE_VER     glob of upstream VERSION strings of this base
#   BASE_SUITE   Debian suite whose source package is the base ('' =
#                the machine's own suites)
#   BASE_PINS    "orig-tarball=sha256 ...": upstream tarballs we verified
#   BASE_STABLE  regexp of Debian patches that are upstream stable diffs
#   MESON_MIN    meson the base needs; BASE_TOOLS: Debian packages of
#                BASE_SUITE unpacked under build/<base>/tools for it
#   BASE_CFG     upstream configure options this base needs
#   BASE_TARGETS upstream targets built (AArch64 on 10.0 only)
#   BASE_BINS    the programs make builds and links at the top
espt_base() {
    BASE=$1
    case $BASE in
    7.2)
        BASE_DEBVER='1:7.2+dfsg-*'
        BASE_VER='7.2.*'
        BASE_SUITE=
        BASE_PINS="qemu_7.2+dfsg.orig.tar.xz=91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f"
        BASE_STABLE='^v7\.2\.[0-9]+\.diff$'
        BASE_DATE=2022-12-14
        MESON_MIN=0.61.3
        BASE_TOOLS=
        BASE_CFG="--with-git-submodules=ignore"
        BASE_TARGETS=arm-softmmu,arm-linux-user
        BASE_BINS="qemu-system-arm qemu-arm"
        ;;
    10.0)
        BASE_DEBVER='1:10.0.*+ds-*'
        BASE_VER='10.0.*'
        BASE_SUITE=trixie
        BASE_PINS="qemu_10.0.13+ds.orig.tar.xz=6a0888e806c2ffc0c5f0733e974f9aea55491950d3c47c98669c8b236dde59ae"
        BASE_STABLE=
        BASE_DATE=2025-04-22
        MESON_MIN=1.5.0
        BASE_TOOLS="meson python3-pycotap"
        # never let mkvenv or meson fetch anything behind our back
        BASE_CFG="--disable-download"
        BASE_TARGETS=arm-softmmu,arm-linux-user,aarch64-softmmu,aarch64-linux-user
        BASE_BINS="qemu-system-arm qemu-arm qemu-system-aarch64 qemu-aarch64"
        ;;
    *)
        die "unknown base '$BASE' (choose one of: $BASES)"
        ;;
    esac
    BB=$BUILD/$BASE
    TREE=$BB/src
    OBJ=$BB/obj
    PATCHES=$SRCDIR/patches/$BASE
}

# The base build/config.mk records (what 'make' and scripts/pq use), else
# the default.
configured_base() {
    local b
    b=$(sed -n 's/^BASE := *//p' "$BUILD/config.mk" 2>/dev/null || true)
    echo "${b:-$DEFAULT_BASE}"
}

# Directories of this repository whose files are linked into the tree at
# the same path.
OWN_DIRS="accel include qapi target"

. "$SRCDIR/scripts/lib/apt-private.sh"

note() { echo "  [espt] $*"; }
warn() { echo "warning: $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# Never fail silently: an unexpected command failure under 'set -e' names
# itself (our own checks use die, which exits before this trap runs).
set -o errtrace
trap 'rc=$?; echo "error: internal: \"$BASH_COMMAND\" failed (status $rc) at ${BASH_SOURCE[0]##*/}:$LINENO" >&2; exit $rc' ERR

git_q() { git -c user.name=qemu-espt -c user.email=qemu-espt@localhost \
              -c core.autocrlf=false -c gc.auto=0 -c advice.detachedHead=false "$@"; }

check_host() {
    case $(uname -s)/$(uname -m) in
    Linux/x86_64) ;;
    *) die "qemu-espt builds on x86-64 Linux hosts only (this is $(uname -s)/$(uname -m))" ;;
    esac
}

# Tool -> Debian package.
check_build_tools() {
    local missing=() pkgs=() t pkg
    for t in tar:tar xz:xz-utils patch:patch git:git python3:python3 \
             meson:meson ninja:ninja-build pkg-config:pkg-config gcc:gcc \
             g++:g++ make:make sha256sum:coreutils; do
        if ! command -v "${t%%:*}" >/dev/null 2>&1; then
            missing+=("${t%%:*}"); pkgs+=("${t#*:}")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        for t in glib-2.0:libglib2.0-dev pixman-1:libpixman-1-dev zlib:zlib1g-dev; do
            if ! pkg-config --exists "${t%%:*}"; then
                missing+=("${t%%:*}"); pkgs+=("${t#*:}")
            fi
        done
        if ! pkg-config --exists libfdt && [ ! -f /usr/include/libfdt.h ]; then
            missing+=(libfdt); pkgs+=(libfdt-dev)
        fi
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        die "missing ${missing[*]}; install with: apt-get install ${pkgs[*]} (or run scripts/install-deps.sh)"
    fi
    if [ -z "$BASE_TOOLS" ]; then
        check_meson meson "Debian package: meson"
    fi
}

# check_meson CMD HOW: CMD is a meson the base can use.
check_meson() {
    local v
    v=$($1 --version 2>/dev/null || echo 0)
    if ! printf '%s\n%s\n' "$MESON_MIN" "$v" | sort -C -V; then
        die "meson $v is too old, QEMU $BASE needs >= $MESON_MIN ($2)"
    fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------------
# Upstream source
# ---------------------------------------------------------------------
# Sets:
#   UPSTREAM_KIND   dsc | tarball | tree
#   UPSTREAM_PATH   the .dsc, tarball or tree
#   UPSTREAM_ID     identity of the base (changes => re-assemble)
#   UPSTREAM_BASE   human-readable description of the base
upstream_fetch() {
    local src=$1 want_sha=$2 d
    UPSTREAM_APT=no
    if [ -z "$src" ]; then
        upstream_fetch_debian
        src=$UPSTREAM_PATH
    fi
    [ -e "$src" ] || die "--qemu-source: '$src' does not exist"
    src=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")

    if [ -d "$src" ]; then
        d=$(find "$src" -maxdepth 1 -name 'qemu_*.dsc' | sort | tail -n 1)
        if [ -n "$d" ]; then
            src=$d
        elif [ -f "$src/VERSION" ] && [ -f "$src/configure" ]; then
            upstream_tree "$src"
            return
        else
            die "--qemu-source: '$src' is neither a QEMU source tree nor a directory holding a Debian qemu source package (.dsc)"
        fi
    fi
    case $src in
    *.dsc) upstream_dsc "$src" "$want_sha" ;;
    *.tar.xz|*.tar.bz2|*.tar.gz|*.tgz) upstream_tarball "$src" "$want_sha" ;;
    *) die "--qemu-source: don't know what '$src' is (want a .dsc, a qemu-$BASE.x tarball or a source tree)" ;;
    esac
}

# pinned_sha NAME: the SHA-256 we verified for upstream tarball NAME, if any.
pinned_sha() {
    local p
    for p in $BASE_PINS; do
        if [ "${p%%=*}" = "$1" ]; then
            echo "${p#*=}"
            return
        fi
    done
}

# The Debian source package of the base through the machine's own apt
# sources (switched to BASE_SUITE when the base comes from another Debian
# release), cached in build/<base>/upstream/.  apt checks the .dsc against
# the signed Sources index; upstream_dsc checks the rest against the .dsc.
upstream_fetch_debian() {
    local cache=$BB/upstream dsc ver where
    dsc=$( (find "$cache" -maxdepth 1 -name 'qemu_*.dsc' 2>/dev/null || true) | sort | tail -n 1)
    if [ -n "$dsc" ]; then
        note "upstream: using cached $(basename "$dsc") (rm -rf build/$BASE/upstream to refetch)"
        UPSTREAM_PATH=$dsc
        UPSTREAM_APT=yes
        return
    fi
    command -v apt-get >/dev/null || die "apt-get not found: give the QEMU source with --qemu-source=PATH"
    where="this machine's apt sources"
    [ -z "$BASE_SUITE" ] || where="this machine's apt sources switched to Debian '$BASE_SUITE'"
    note "upstream: fetching Debian's qemu $BASE source package with apt ($where; private state in build/$BASE/apt-src)"
    apt_private_init "$BB/apt-src" src "$BASE_SUITE" || die "cannot set up private apt state"
    if ! apt_private apt-get -q update > "$BB/apt-src/update.log" 2>&1; then
        warn "apt-get update reported errors (see build/$BASE/apt-src/update.log); trying with the indexes it did get"
    fi
    ver=$(apt_private apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' |
          while read -r v; do
              # shellcheck disable=SC2254
              case $v in $BASE_DEBVER) echo "$v" ;; esac
          done | sort -V | tail -n 1)
    [ -n "$ver" ] || die "apt finds no qemu $BASE source package (Version $BASE_DEBVER) in $where; give one with --qemu-source=PATH"
    rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
    if ! (cd "$cache.tmp" && apt_private apt-get -q source --download-only "qemu=$ver") \
            > "$BB/apt-src/source.log" 2>&1; then
        tail -n 5 "$BB/apt-src/source.log" >&2
        die "apt-get source qemu=$ver failed (log: build/$BASE/apt-src/source.log)"
    fi
    rm -rf "$cache" && mv "$cache.tmp" "$cache"
    UPSTREAM_PATH=$(find "$cache" -maxdepth 1 -name 'qemu_*.dsc' | head -n 1)
    [ -n "$UPSTREAM_PATH" ] || die "apt-get source left no .dsc in build/$BASE/upstream"
    UPSTREAM_APT=yes
}

# A Debian source package: verify every file against the .dsc, and the
# orig tarball against our pin (or --qemu-sha256).  An orig tarball we
# have not pinned is accepted only when apt fetched it (its .dsc was
# checked against the signed index).
upstream_dsc() {
    local dsc=$1 want=$2 dir ver f sum got orig="" debtar="" pin
    dir=$(dirname "$dsc")
    ver=$(sed -n 's/^Version: //p' "$dsc" | head -n 1)
    # shellcheck disable=SC2254
    case $ver in
    $BASE_DEBVER|${BASE_DEBVER#1:}) ;;
    *) die "--qemu-source: $(basename "$dsc") is qemu '$ver', not $BASE (see --base)" ;;
    esac
    while read -r sum _ f; do
        [ -n "$f" ] || continue
        [ -f "$dir/$f" ] || die "$f (listed in $(basename "$dsc")) is missing"
        got=$(sha256_of "$dir/$f")
        [ "$got" = "$sum" ] || die "checksum mismatch for $f: got $got, $(basename "$dsc") says $sum"
        case $f in
        *.orig.tar.*) orig=$f ;;
        *.debian.tar.*) debtar=$f ;;
        esac
    done < <(awk '/^Checksums-Sha256:/ {on=1; next} /^[^ ]/ {on=0} on' "$dsc")
    [ -n "$orig" ] && [ -n "$debtar" ] || die "$(basename "$dsc") lists no orig and debian tarballs"
    pin=$(pinned_sha "$orig")
    [ -n "$pin" ] || pin=$(echo "$want" | tr 'A-F' 'a-f')
    got=$(sha256_of "$dir/$orig")
    if [ -n "$pin" ]; then
        [ "$got" = "$pin" ] || die "checksum mismatch for $orig: got $got, expected $pin"
    elif [ "$UPSTREAM_APT" = yes ]; then
        warn "$orig is not a tarball qemu-espt was tested on (apt verified it; pinned: ${BASE_PINS%%=*})"
    else
        die "$(basename "$dsc") is based on $orig, not a pinned tarball (${BASE_PINS%%=*}); give its sha256 with --qemu-sha256=HEX"
    fi
    UPSTREAM_KIND=dsc
    UPSTREAM_PATH=$dsc
    UPSTREAM_ID="dsc $(sha256_of "$dsc")"
    UPSTREAM_DEBVER=$ver
    UPSTREAM_ORIG=$dir/$orig
    UPSTREAM_DEBTAR=$dir/$debtar
}

upstream_tarball() {
    local tb=$1 want=$2 got
    got=$(sha256_of "$tb")
    if [ -z "$want" ]; then
        want=$(pinned_sha "$(basename "$tb")")
        [ -n "$want" ] || die "no known checksum for $(basename "$tb"); give it with --qemu-sha256=HEX"
    fi
    if [ "$got" != "$(echo "$want" | tr 'A-F' 'a-f')" ]; then
        die "checksum mismatch for $(basename "$tb"): got $got, expected $want"
    fi
    UPSTREAM_KIND=tarball
    UPSTREAM_PATH=$tb
    UPSTREAM_ID="tarball $got"
}

upstream_tree() {
    local t=$1 v
    v=$(cat "$t/VERSION")
    # shellcheck disable=SC2254
    case $v in
    $BASE_VER) ;;
    *) die "--qemu-source: $t is QEMU $v, not $BASE.x (see --base)" ;;
    esac
    warn "using the unpacked tree $t as is: it cannot be checksum-verified"
    UPSTREAM_KIND=tree
    UPSTREAM_PATH=$t
    UPSTREAM_ID="tree $t $v"
}

# Unpack the selected upstream into $1 and set UPSTREAM_BASE.
upstream_unpack() {
    local dst=$1 p first="" last="" n=0 work
    mkdir -p "$dst"
    case $UPSTREAM_KIND in
    dsc)
        tar -xf "$UPSTREAM_ORIG" -C "$dst" --strip-components=1
        if [ -n "$BASE_STABLE" ]; then
            work=$(mktemp -d)
            tar -xf "$UPSTREAM_DEBTAR" -C "$work" debian/patches
            # Debian's 7.2 patch series starts with upstream's 7.2.x
            # stable releases as diffs; apply exactly those, in order.
            # (Debian's other patches are packaging changes.)
            for p in $(grep -E "$BASE_STABLE" "$work/debian/patches/series"); do
                if ! patch -d "$dst" -p1 -s -f --no-backup-if-mismatch \
                        < "$work/debian/patches/$p" > "$work/patch.log" 2>&1; then
                    cat "$work/patch.log" >&2
                    rm -rf "$work"
                    die "Debian stable patch $p does not apply"
                fi
                [ -n "$first" ] || first=${p%.diff}
                last=${p%.diff}
                n=$((n + 1))
            done
            rm -rf "$work"
        fi
        if [ $n -gt 0 ]; then
            UPSTREAM_BASE="QEMU $(cat "$dst/VERSION") ($BASE.0 + stable $first..$last from Debian qemu $UPSTREAM_DEBVER)"
        else
            UPSTREAM_BASE="QEMU $(cat "$dst/VERSION") (Debian qemu $UPSTREAM_DEBVER)"
        fi
        ;;
    tarball)
        tar -xf "$UPSTREAM_PATH" -C "$dst" --strip-components=1
        [ -f "$dst/VERSION" ] || die "$(basename "$UPSTREAM_PATH") does not look like a QEMU tarball"
        # shellcheck disable=SC2254
        case $(cat "$dst/VERSION") in
        $BASE_VER) ;;
        *) die "$(basename "$UPSTREAM_PATH") is QEMU $(cat "$dst/VERSION"), not $BASE.x (see --base)" ;;
        esac
        UPSTREAM_BASE="QEMU $(cat "$dst/VERSION") ($(basename "$UPSTREAM_PATH"), sha256 ${UPSTREAM_ID#tarball })"
        ;;
    tree)
        (cd "$UPSTREAM_PATH" && tar -cf - --exclude=.git --exclude=./build .) | tar -xf - -C "$dst"
        UPSTREAM_BASE="QEMU $(cat "$dst/VERSION") (unverified tree $UPSTREAM_PATH)"
        ;;
    esac
}

# ---------------------------------------------------------------------
# Build tools from the base's Debian release
# ---------------------------------------------------------------------
# QEMU 10.0 needs a newer meson than Debian 12 has.  Debian 13's meson is
# architecture-independent Python: download it (and what QEMU's mkvenv
# wants with it) through the private apt state, which checks each .deb
# against the signed Packages index, and unpack it under
# build/<base>/tools.  Nothing is installed on the system.  Sets
# TOOLS_PYTHONPATH ('' when the base uses the system's tools).
base_tools() {
    local dir=$BB/tools want have d
    TOOLS_PYTHONPATH=
    [ -n "$BASE_TOOLS" ] || return 0
    want="$BASE_SUITE: $BASE_TOOLS"
    have=$(cat "$dir/.packages" 2>/dev/null || true)
    if [ "$have" != "$want" ] || [ ! -d "$dir/usr/lib/python3/dist-packages/mesonbuild" ]; then
        command -v apt-get >/dev/null || die "apt-get not found: QEMU $BASE needs meson >= $MESON_MIN from Debian '$BASE_SUITE'"
        note "tools: fetching $BASE_TOOLS from Debian '$BASE_SUITE' with apt (unpacked in build/$BASE/tools, not installed)"
        apt_private_init "$BB/apt-bin" bin "$BASE_SUITE" || die "cannot set up private apt state"
        if ! apt_private apt-get -q update > "$BB/apt-bin/update.log" 2>&1; then
            warn "apt-get update reported errors (see build/$BASE/apt-bin/update.log); trying with the indexes it did get"
        fi
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/debs"
        # shellcheck disable=SC2086
        if ! (cd "$dir.tmp/debs" && apt_private apt-get -q download $BASE_TOOLS) \
                > "$BB/apt-bin/download.log" 2>&1; then
            tail -n 5 "$BB/apt-bin/download.log" >&2
            die "apt-get download $BASE_TOOLS from Debian '$BASE_SUITE' failed (log: build/$BASE/apt-bin/download.log)"
        fi
        for d in "$dir.tmp"/debs/*.deb; do
            dpkg-deb -x "$d" "$dir.tmp" || die "cannot unpack $(basename "$d")"
        done
        (cd "$dir.tmp/debs" && ls) > "$dir.tmp/.debs"
        echo "$want" > "$dir.tmp/.packages"
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
    fi
    TOOLS_PYTHONPATH=$dir/usr/lib/python3/dist-packages
    PYTHONPATH=$TOOLS_PYTHONPATH check_meson "python3 -m mesonbuild.mesonmain" \
        "unpacked from Debian '$BASE_SUITE' in build/$BASE/tools"
}

# ---------------------------------------------------------------------
# Assembling build/<base>/src
# ---------------------------------------------------------------------
series_files() {
    local p
    [ -f "$PATCHES/series" ] || die "patches/$BASE/series does not exist: no series for base $BASE"
    while read -r p; do
        case $p in ''|'#'*) continue ;; esac
        [ -f "$PATCHES/$p" ] || die "patches/$BASE/series names $p, which does not exist"
        echo "$PATCHES/$p"
    done < "$PATCHES/series"
}

series_hash() {
    local f
    { for f in $(series_files); do basename "$f"; cat "$f"; done; } | sha256sum | cut -d' ' -f1
}

# True when build/<base>/src holds work that is not in patches/<base>/ yet.
tree_has_unexported_work() {
    [ -d "$TREE/.git" ] || return 1
    [ -f "$TREE/.git/espt-head" ] || return 1
    [ "$(git -C "$TREE" rev-parse HEAD)" != "$(cat "$TREE/.git/espt-head")" ] && return 0
    ! git -C "$TREE" diff --quiet HEAD 2>/dev/null
}

apply_series() {
    local p
    for p in $(series_files); do
        if ! git_q -C "$TREE" am -q --keep-cr "$p" > "$BB/am.log" 2>&1; then
            git -C "$TREE" am --abort >/dev/null 2>&1 || true
            sed -n 's/^error: /  git am: /p' "$BB/am.log" >&2
            die "patch patches/$BASE/$(basename "$p") does not apply to $UPSTREAM_BASE"
        fi
    done
    git -C "$TREE" rev-parse HEAD > "$TREE/.git/espt-head"
    series_hash > "$TREE/.git/espt-series"
}

assemble_tree() {
    local force=$1 sh
    sh=$(series_hash)
    if [ -d "$TREE/.git" ] && [ "$(cat "$TREE/.git/espt-id" 2>/dev/null)" = "$UPSTREAM_ID" ]; then
        UPSTREAM_BASE=$(cat "$TREE/.git/espt-base")
        if [ "$(cat "$TREE/.git/espt-series" 2>/dev/null)" = "$sh" ]; then
            note "build/$BASE/src is up to date ($(wc -l < <(series_files)) patches)"
            return
        fi
        if [ "$force" != yes ] && tree_has_unexported_work; then
            die "build/$BASE/src has patch-queue work not in patches/$BASE/: run scripts/pq export first (or configure --force to drop it)"
        fi
        note "patches/$BASE/ changed: re-applying the series on the base"
        git_q -C "$TREE" am --abort >/dev/null 2>&1 || true
        git_q -C "$TREE" checkout -q -f -B espt upstream
        apply_series
        return
    fi
    if [ -d "$TREE" ] && [ "$force" != yes ] && tree_has_unexported_work; then
        die "build/$BASE/src has patch-queue work not in patches/$BASE/: run scripts/pq export first (or configure --force to drop it)"
    fi
    note "assembling build/$BASE/src from $(basename "$UPSTREAM_PATH")"
    rm -rf "$TREE" "$TREE.new"
    upstream_unpack "$TREE.new"
    mv "$TREE.new" "$TREE"
    git_q -C "$TREE" init -q -b upstream
    git_q -C "$TREE" add -f -A .
    GIT_AUTHOR_DATE="${BASE_DATE}T00:00:00Z" GIT_COMMITTER_DATE="${BASE_DATE}T00:00:00Z" \
        git_q -C "$TREE" commit -q -m "$UPSTREAM_BASE" --no-verify
    git_q -C "$TREE" checkout -q -b espt
    echo "$UPSTREAM_ID" > "$TREE/.git/espt-id"
    echo "$UPSTREAM_BASE" > "$TREE/.git/espt-base"
    apply_series
    note "applied $(wc -l < <(series_files)) patches from patches/$BASE/"
}

# Our own files: symlinked into the tree at their QEMU paths.  An own file
# may never shadow an upstream one (upstream changes go through patches/).
link_own_files() {
    local f dst n=0 l ex
    # (a worktree's .git is a file: ask git where its exclude file is)
    ex=$(cd "$TREE" && git rev-parse --path-format=absolute --git-path info/exclude)
    mkdir -p "$(dirname "$ex")"
    : > "$ex.new"
    for l in $(find "$TREE" -path "$TREE/.git" -prune -o -type l -print); do
        case $(readlink "$l") in
        "$SRCDIR"/*) [ -e "$l" ] || rm -f "$l" ;;
        esac
    done
    while read -r f; do
        dst=$TREE/$f
        if [ -e "$dst" ] && [ ! -L "$dst" ]; then
            die "our file $f would replace upstream's; change upstream files through patches/"
        fi
        mkdir -p "$(dirname "$dst")"
        ln -sfn "$SRCDIR/$f" "$dst"
        echo "/$f" >> "$ex.new"
        n=$((n + 1))
    done < <(cd "$SRCDIR" && find $OWN_DIRS -type f ! -name '*~' ! -name '.*' | sort)
    mkdir -p "$TREE/qemu-espt"
    ln -sfn "$SRCDIR/meson.build" "$TREE/qemu-espt/meson.build"
    echo "/qemu-espt/" >> "$ex.new"
    mv "$ex.new" "$ex"
    note "linked $n own source files into build/$BASE/src"
}
