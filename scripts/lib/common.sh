# shellcheck shell=bash
# Helpers shared by ./configure and scripts/*.  Expects SRCDIR to be set.
#
# SPDX-License-Identifier: GPL-2.0-or-later

BUILD=$SRCDIR/build
TREE=$BUILD/src          # assembled upstream + patches + our files (git repo)
OBJ=$BUILD/obj           # upstream's build directory

# The pinned upstream tarball (Debian's DFSG-clean repack of QEMU 7.2.0).
PINNED_ORIG=qemu_7.2+dfsg.orig.tar.xz
PINNED_ORIG_SHA256=91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f
MESON_MIN=0.61.3

# Directories of this repository whose files are linked into the tree at
# the same path.
OWN_DIRS="accel hw include qapi softmmu target tcg"

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
    local v
    v=$(meson --version 2>/dev/null || echo 0)
    if ! printf '%s\n%s\n' "$MESON_MIN" "$v" | sort -C -V; then
        die "meson $v is too old, QEMU 7.2 needs >= $MESON_MIN (Debian package: meson)"
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
    *.dsc) upstream_dsc "$src" ;;
    *.tar.xz|*.tar.bz2|*.tar.gz|*.tgz) upstream_tarball "$src" "$want_sha" ;;
    *) die "--qemu-source: don't know what '$src' is (want a .dsc, a qemu-7.2.x tarball or a source tree)" ;;
    esac
}

# Debian's qemu 7.2 source package through the machine's own apt sources,
# cached in build/upstream/.
upstream_fetch_debian() {
    local cache=$BUILD/upstream dsc ver
    dsc=$( (find "$cache" -maxdepth 1 -name 'qemu_*.dsc' 2>/dev/null || true) | sort | tail -n 1)
    if [ -n "$dsc" ]; then
        note "upstream: using cached $(basename "$dsc") (rm -rf build/upstream to refetch)"
        UPSTREAM_PATH=$dsc
        return
    fi
    command -v apt-get >/dev/null || die "apt-get not found: give the QEMU source with --qemu-source=PATH"
    note "upstream: fetching Debian's qemu 7.2 source package with apt (private state in build/apt-src)"
    apt_private_init "$BUILD/apt-src" src || die "cannot set up private apt state"
    if ! apt_private apt-get -q update > "$BUILD/apt-src/update.log" 2>&1; then
        warn "apt-get update reported errors (see build/apt-src/update.log); trying with the indexes it did get"
    fi
    ver=$(apt_private apt-cache showsrc qemu 2>/dev/null |
          sed -n 's/^Version: \(1:7\.2+dfsg-.*\)$/\1/p' | sort -V | tail -n 1)
    [ -n "$ver" ] || die "apt finds no qemu 7.2 source package (Version 1:7.2+dfsg-*) in this machine's apt sources; give one with --qemu-source=PATH"
    rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
    if ! (cd "$cache.tmp" && apt_private apt-get -q source --download-only "qemu=$ver") \
            > "$BUILD/apt-src/source.log" 2>&1; then
        tail -n 5 "$BUILD/apt-src/source.log" >&2
        die "apt-get source qemu=$ver failed (log: build/apt-src/source.log)"
    fi
    rm -rf "$cache" && mv "$cache.tmp" "$cache"
    UPSTREAM_PATH=$(find "$cache" -maxdepth 1 -name 'qemu_*.dsc' | head -n 1)
    [ -n "$UPSTREAM_PATH" ] || die "apt-get source left no .dsc in build/upstream"
}

# A Debian source package: verify every file against the .dsc, and the
# orig tarball against our pinned checksum.
upstream_dsc() {
    local dsc=$1 dir ver f sum got orig="" debtar=""
    dir=$(dirname "$dsc")
    ver=$(sed -n 's/^Version: //p' "$dsc" | head -n 1)
    case $ver in
    1:7.2+dfsg-*|7.2+dfsg-*) ;;
    *) die "--qemu-source: $(basename "$dsc") is qemu '$ver', not 7.2" ;;
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
    if [ "$orig" = "$PINNED_ORIG" ]; then
        got=$(sha256_of "$dir/$orig")
        [ "$got" = "$PINNED_ORIG_SHA256" ] ||
            die "checksum mismatch for $orig: got $got, expected $PINNED_ORIG_SHA256"
    else
        die "$(basename "$dsc") is based on $orig, not the pinned $PINNED_ORIG"
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
        if [ "$(basename "$tb")" = "$PINNED_ORIG" ]; then
            want=$PINNED_ORIG_SHA256
        else
            die "no known checksum for $(basename "$tb"); give it with --qemu-sha256=HEX"
        fi
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
    case $v in
    7.2.*) ;;
    *) die "--qemu-source: $t is QEMU $v, not 7.2.x" ;;
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
        work=$(mktemp -d)
        tar -xf "$UPSTREAM_DEBTAR" -C "$work" debian/patches
        # Debian's patch series starts with upstream's 7.2.x stable
        # releases as diffs; apply exactly those, in order.
        for p in $(grep -E '^v7\.2\.[0-9]+\.diff$' "$work/debian/patches/series"); do
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
        if [ $n -gt 0 ]; then
            UPSTREAM_BASE="QEMU $(cat "$dst/VERSION") (7.2.0 + stable $first..$last from Debian qemu $UPSTREAM_DEBVER)"
        else
            UPSTREAM_BASE="QEMU $(cat "$dst/VERSION") (Debian qemu $UPSTREAM_DEBVER)"
        fi
        ;;
    tarball)
        tar -xf "$UPSTREAM_PATH" -C "$dst" --strip-components=1
        [ -f "$dst/VERSION" ] || die "$(basename "$UPSTREAM_PATH") does not look like a QEMU tarball"
        case $(cat "$dst/VERSION") in
        7.2.*) ;;
        *) die "$(basename "$UPSTREAM_PATH") is QEMU $(cat "$dst/VERSION"), not 7.2.x" ;;
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
# Assembling build/src
# ---------------------------------------------------------------------
series_files() {
    local p
    [ -f "$SRCDIR/patches/series" ] || return 0
    while read -r p; do
        case $p in ''|'#'*) continue ;; esac
        [ -f "$SRCDIR/patches/$p" ] || die "patches/series names $p, which does not exist"
        echo "$SRCDIR/patches/$p"
    done < "$SRCDIR/patches/series"
}

series_hash() {
    local f
    { for f in $(series_files); do basename "$f"; cat "$f"; done; } | sha256sum | cut -d' ' -f1
}

# True when build/src holds work that is not in patches/ yet.
tree_has_unexported_work() {
    [ -d "$TREE/.git" ] || return 1
    [ -f "$TREE/.git/espt-head" ] || return 1
    [ "$(git -C "$TREE" rev-parse HEAD)" != "$(cat "$TREE/.git/espt-head")" ] && return 0
    ! git -C "$TREE" diff --quiet HEAD 2>/dev/null
}

apply_series() {
    local p
    for p in $(series_files); do
        if ! git_q -C "$TREE" am -q --keep-cr "$p" > "$BUILD/am.log" 2>&1; then
            git -C "$TREE" am --abort >/dev/null 2>&1 || true
            sed -n 's/^error: /  git am: /p' "$BUILD/am.log" >&2
            die "patch patches/$(basename "$p") does not apply to $UPSTREAM_BASE"
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
            note "build/src is up to date ($(wc -l < <(series_files)) patches)"
            return
        fi
        if [ "$force" != yes ] && tree_has_unexported_work; then
            die "build/src has patch-queue work not in patches/: run scripts/pq export first (or configure --force to drop it)"
        fi
        note "patches/ changed: re-applying the series on the base"
        git_q -C "$TREE" am --abort >/dev/null 2>&1 || true
        git_q -C "$TREE" checkout -q -f -B espt upstream
        apply_series
        return
    fi
    if [ -d "$TREE" ] && [ "$force" != yes ] && tree_has_unexported_work; then
        die "build/src has patch-queue work not in patches/: run scripts/pq export first (or configure --force to drop it)"
    fi
    note "assembling build/src from $(basename "$UPSTREAM_PATH")"
    rm -rf "$TREE" "$TREE.new"
    upstream_unpack "$TREE.new"
    mv "$TREE.new" "$TREE"
    git_q -C "$TREE" init -q -b upstream
    git_q -C "$TREE" add -f -A .
    GIT_AUTHOR_DATE="2022-12-14T00:00:00Z" GIT_COMMITTER_DATE="2022-12-14T00:00:00Z" \
        git_q -C "$TREE" commit -q -m "$UPSTREAM_BASE" --no-verify
    git_q -C "$TREE" checkout -q -b espt
    echo "$UPSTREAM_ID" > "$TREE/.git/espt-id"
    echo "$UPSTREAM_BASE" > "$TREE/.git/espt-base"
    apply_series
    note "applied $(wc -l < <(series_files)) patches from patches/"
}

# Our own files: symlinked into the tree at their QEMU paths.  An own file
# may never shadow an upstream one (upstream changes go through patches/).
link_own_files() {
    local f dst n=0 l
    mkdir -p "$TREE/.git/info"
    : > "$TREE/.git/info/exclude.new"
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
        echo "/$f" >> "$TREE/.git/info/exclude.new"
        n=$((n + 1))
    done < <(cd "$SRCDIR" && for d in $OWN_DIRS; do
                 if [ -d "$d" ]; then
                     find "$d" -type f ! -name '*~' ! -name '.*'
                 fi
             done | sort)
    mkdir -p "$TREE/qemu-espt"
    ln -sfn "$SRCDIR/meson.build" "$TREE/qemu-espt/meson.build"
    echo "/qemu-espt/" >> "$TREE/.git/info/exclude.new"
    mv "$TREE/.git/info/exclude.new" "$TREE/.git/info/exclude"
    note "linked $n own source files into build/src"
}
