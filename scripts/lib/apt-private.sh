# shellcheck shell=bash
# Private apt state for qemu-espt.
#
# We never touch the system's apt configuration.  Instead we copy the
# machine's own `deb` sources into a directory under build/, optionally
# rewritten to `deb-src`, and point apt at it through APT_CONFIG.  The
# system's apt.conf.d (proxies, etc.) and keyrings are still honoured.
#
# Usage (sourced):  apt_private_init DIR KIND [SUITE]
#                       KIND = src | bin | armhf; SUITE: switch the
#                       machine's Debian suites to this release (its
#                       -updates and -security too)
#                   apt_private apt-get ...        run apt with that state

apt_private_init() {
    local dir=$1 kind=$2 srclist srcparts f
    APT_PRIVATE_FROM=
    APT_PRIVATE_TO=${3:-}
    if [ -n "$APT_PRIVATE_TO" ]; then
        APT_PRIVATE_FROM=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
        if [ -z "$APT_PRIVATE_FROM" ]; then
            echo "error: cannot tell this machine's Debian release (no VERSION_CODENAME in /etc/os-release) to switch its apt sources to '$APT_PRIVATE_TO'" >&2
            return 1
        fi
        [ "$APT_PRIVATE_FROM" != "$APT_PRIVATE_TO" ] || APT_PRIVATE_FROM=
    fi
    APT_PRIVATE_DIR=$(mkdir -p "$dir" && cd "$dir" && pwd)
    mkdir -p "$APT_PRIVATE_DIR"/sources.list.d "$APT_PRIVATE_DIR"/state/lists/partial \
             "$APT_PRIVATE_DIR"/cache/archives/partial "$APT_PRIVATE_DIR"/prefs.d
    : > "$APT_PRIVATE_DIR"/state/status

    eval "$(apt-config shell srclist Dir::Etc::sourcelist/f srcparts Dir::Etc::sourceparts/d)"
    rm -f "$APT_PRIVATE_DIR"/sources.list.d/*
    : > "$APT_PRIVATE_DIR"/sources.list
    if [ -f "$srclist" ]; then
        apt_private_rewrite_list "$kind" < "$srclist" > "$APT_PRIVATE_DIR"/sources.list
    fi
    for f in "$srcparts"/*.list "$srcparts"/*.sources; do
        [ -f "$f" ] || continue
        case $f in
        *.list) apt_private_rewrite_list "$kind" < "$f" \
                    > "$APT_PRIVATE_DIR/sources.list.d/$(basename "$f")" ;;
        *.sources) apt_private_rewrite_deb822 "$kind" < "$f" \
                    > "$APT_PRIVATE_DIR/sources.list.d/$(basename "$f")" ;;
        esac
    done
    if ! grep -qs -E '^(deb|deb-src|Types:)' "$APT_PRIVATE_DIR"/sources.list \
            "$APT_PRIVATE_DIR"/sources.list.d/*; then
        echo "error: this machine's apt configuration lists no 'deb' sources" >&2
        return 1
    fi
    if [ -n "$APT_PRIVATE_FROM" ] && ! grep -qs -E "(^|[[:space:]])$APT_PRIVATE_TO([[:space:]]|-|\$)" \
            "$APT_PRIVATE_DIR"/sources.list "$APT_PRIVATE_DIR"/sources.list.d/*; then
        echo "error: this machine's apt sources name no '$APT_PRIVATE_FROM' suite to switch to '$APT_PRIVATE_TO'" >&2
        return 1
    fi

    {
        echo "Dir::Etc::sourcelist \"$APT_PRIVATE_DIR/sources.list\";"
        echo "Dir::Etc::sourceparts \"$APT_PRIVATE_DIR/sources.list.d\";"
        echo "Dir::Etc::preferences \"$APT_PRIVATE_DIR/preferences\";"
        echo "Dir::Etc::preferencesparts \"$APT_PRIVATE_DIR/prefs.d\";"
        echo "Dir::State \"$APT_PRIVATE_DIR/state\";"
        echo "Dir::State::status \"$APT_PRIVATE_DIR/state/status\";"
        echo "Dir::Cache \"$APT_PRIVATE_DIR/cache\";"
        echo "APT::Sandbox::User \"root\";"
        case $kind in
        armhf|arm64)
            echo "APT::Architecture \"$kind\";"
            echo "APT::Architectures { \"$kind\"; };"
            ;;
        esac
    } > "$APT_PRIVATE_DIR"/apt.conf
}

# With a suite switch, FROM, FROM-updates and FROM-security become
# TO, TO-updates and TO-security; the machine's other suites (backports,
# which a new release may lack, or other releases) are left out.
# One-line format: keep only `deb` lines (the binary sources) and turn
# them into what we need.
apt_private_rewrite_list() {
    awk -v kind="$1" -v from="$APT_PRIVATE_FROM" -v to="$APT_PRIVATE_TO" '
    $1 != "deb" { next }
    {
        line = (kind == "src") ? "deb-src" : "deb"
        i = 2
        if ($i ~ /^\[/) {              # [ options ]
            for (; i <= NF; i++) {
                line = line " " $i
                if ($i ~ /\]$/) { i++; break }
            }
        }
        uri = $i; suite = $(i + 1)
        if (from != "") {
            if (suite != from && suite != from "-updates" && suite != from "-security") next
            suite = to substr(suite, length(from) + 1)
        }
        line = line " " uri " " suite
        for (j = i + 2; j <= NF; j++) line = line " " $j
        print line
    }'
}

# deb822 format: keep stanzas whose Types include `deb`.
apt_private_rewrite_deb822() {
    local kind=$1
    awk -v kind="$kind" -v from="$APT_PRIVATE_FROM" -v to="$APT_PRIVATE_TO" '
    function flush() {
        if (stanza != "" && isdeb && enabled) printf "%s\n", stanza
        stanza = ""; isdeb = 0; enabled = 1
    }
    BEGIN { enabled = 1 }
    /^[[:space:]]*$/ { flush(); next }
    /^#/ { next }
    /^Types:/ {
        if ($0 ~ /[[:space:]]deb([[:space:]]|$)/) isdeb = 1
        line = (kind == "src") ? "Types: deb-src" : "Types: deb"
        stanza = stanza line "\n"; next
    }
    /^Enabled:[[:space:]]*no/ { enabled = 0 }
    /^Architectures:/ { next }
    /^Suites:/ {
        if (from != "") {
            line = "Suites:"
            for (i = 2; i <= NF; i++) {
                if ($i == from || $i == from "-updates" || $i == from "-security") {
                    line = line " " to substr($i, length(from) + 1)
                }
            }
            if (line == "Suites:") { enabled = 0 }
            stanza = stanza line "\n"; next
        }
    }
    { stanza = stanza $0 "\n" }
    END { flush() }'
}

apt_private() {
    APT_CONFIG="$APT_PRIVATE_DIR/apt.conf" "$@"
}
