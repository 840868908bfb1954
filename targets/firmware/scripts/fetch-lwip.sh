#!/bin/sh
# Unpacks lwIP 2.1.3 into targets/firmware/third_party/lwip-2.1.3 (idempotent).
#
# The source is Debian's `lwip` source package (2.1.3+dfsg1; the repack only
# removed generated Doxygen output), fetched with apt so its checksums are
# verified against the signed Sources index. If no deb-src entry is
# configured, one is written at run time from the mirror URI of the system's
# own Debian sources (never stored in this repository).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/third_party/lwip-2.1.3"
dl="$here/third_party/download"
orig=lwip_2.1.3+dfsg1.orig.tar.xz

if [ -f "$dest/src/core/tcp.c" ]; then
    exit 0
fi
mkdir -p "$dl"

if [ ! -f "$dl/$orig" ]; then
    if ! (cd "$dl" && apt-get source --download-only lwip >/dev/null 2>&1); then
        uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        [ -n "$uri" ] || uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
        if [ -z "$uri" ]; then
            echo "fetch-lwip: no Debian mirror URI found in the apt sources" >&2
            exit 1
        fi
        echo "deb-src $uri bookworm main" > /etc/apt/sources.list.d/bench-src.list
        apt-get update >/dev/null
        (cd "$dl" && apt-get source --download-only lwip >/dev/null)
    fi
fi
[ -f "$dl/$orig" ] || { echo "fetch-lwip: $orig not downloaded" >&2; exit 1; }

tmp="$here/third_party/.unpack.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
tar -xJf "$dl/$orig" -C "$tmp"
src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -f "$src/src/core/tcp.c" ] || { echo "fetch-lwip: unexpected tarball layout" >&2; exit 1; }
rm -rf "$dest"
mv "$src" "$dest"
rm -rf "$tmp"
echo "fetch-lwip: lwIP 2.1.3 in $dest"
