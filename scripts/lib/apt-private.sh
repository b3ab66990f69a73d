# shellcheck shell=bash
# Private apt state for qemu-espt.
#
# We never touch the system's apt configuration.  Instead we copy the
# machine's own `deb` sources into a directory under build/, optionally
# rewritten to `deb-src`, and point apt at it through APT_CONFIG.  The
# system's apt.conf.d (proxies, etc.) and keyrings are still honoured.
#
# Usage (sourced):  apt_private_init DIR KIND      KIND = src | armhf
#                   apt_private apt-get ...        run apt with that state

apt_private_init() {
    local dir=$1 kind=$2 srclist srcparts f
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

    {
        echo "Dir::Etc::sourcelist \"$APT_PRIVATE_DIR/sources.list\";"
        echo "Dir::Etc::sourceparts \"$APT_PRIVATE_DIR/sources.list.d\";"
        echo "Dir::Etc::preferences \"$APT_PRIVATE_DIR/preferences\";"
        echo "Dir::Etc::preferencesparts \"$APT_PRIVATE_DIR/prefs.d\";"
        echo "Dir::State \"$APT_PRIVATE_DIR/state\";"
        echo "Dir::State::status \"$APT_PRIVATE_DIR/state/status\";"
        echo "Dir::Cache \"$APT_PRIVATE_DIR/cache\";"
        echo "APT::Sandbox::User \"root\";"
        if [ "$kind" = armhf ]; then
            echo "APT::Architecture \"armhf\";"
            echo "APT::Architectures { \"armhf\"; };"
        fi
    } > "$APT_PRIVATE_DIR"/apt.conf
}

# One-line format: keep only `deb` lines (the binary sources) and turn
# them into what we need.
apt_private_rewrite_list() {
    local kind=$1
    if [ "$kind" = src ]; then
        sed -n -e 's/^[[:space:]]*deb[[:space:]]/deb-src /p'
    else
        sed -n -e 's/^[[:space:]]*deb[[:space:]]/deb /p'
    fi
}

# deb822 format: keep stanzas whose Types include `deb`.
apt_private_rewrite_deb822() {
    local kind=$1
    awk -v kind="$kind" '
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
    { stanza = stanza $0 "\n" }
    END { flush() }'
}

apt_private() {
    APT_CONFIG="$APT_PRIVATE_DIR/apt.conf" "$@"
}
