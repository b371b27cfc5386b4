#!/usr/bin/env bash
# Builds the plantkeeper Debian package from an already built binary, with plain dpkg-deb (no
# cargo-deb to compile: the tree is small and this script is all of its layout).
#   deploy/debian/build-deb.sh ARCH BINARY OUTDIR      ARCH: amd64, arm64 or armhf
# Writes OUTDIR/plantkeeper_VERSION_ARCH.deb and prints its path. Compressed with xz (the
# smallest download); DEB_COMPRESSION=gzip is much faster, for throw-away test packages.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 ARCH BINARY OUTDIR   (ARCH: amd64, arm64 or armhf)" >&2
    exit 2
fi
arch=$1 binary=$2 outdir=$3
case "$arch" in amd64 | arm64 | armhf) ;; *) echo "unknown ARCH '$arch'" >&2; exit 2 ;; esac
[ -x "$binary" ] || { echo "no executable binary at $binary" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)
[ -n "$version" ] || { echo "no version in Cargo.toml" >&2; exit 1; }

# The newest glibc symbol version the binary needs is the libc6 it depends on.
glibc=$(grep -ao 'GLIBC_2\.[0-9]*\(\.[0-9]*\)\?' "$binary" | sed 's/GLIBC_//' | sort -uV | tail -1)
[ -n "$glibc" ] || { echo "$binary does not look like a glibc binary" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage" # mktemp's 0700 would become the archive's root directory
install -D -m 0755 "$binary" "$stage/usr/bin/plantkeeper"
install -D -m 0644 "$here/plantkeeper.service" "$stage/usr/lib/systemd/system/plantkeeper.service"
install -D -m 0644 "$here/plantkeeper.toml" "$stage/etc/plantkeeper/plantkeeper.toml"
doc="$stage/usr/share/doc/plantkeeper"
install -D -m 0644 "$here/copyright" "$doc/copyright"
# Debian wants a changelog even in a native package; dated by the last commit, for reproducibility.
when=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)
printf 'plantkeeper (%s) stable; urgency=medium\n\n  * Release %s (see the repository history).\n\n -- %s  %s\n' \
    "$version" "$version" "PlantKeeper developers <plantkeeper@example.invalid>" \
    "$(date -R -u -d "@$when")" | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
for page in README.md docs/config.md docs/nodes.md docs/api.md docs/raspberry-pi.md; do
    if [ -f "$root/$page" ]; then install -m 0644 "$root/$page" "$doc/"; fi
done

install -d -m 0755 "$stage/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$stage/DEBIAN/$script"
done
echo /etc/plantkeeper/plantkeeper.toml >"$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: plantkeeper
Version: $version
Architecture: $arch
Maintainer: PlantKeeper developers <plantkeeper@example.invalid>
Installed-Size: $size
Depends: libc6 (>= $glibc), libgcc-s1, passwd
Section: misc
Priority: optional
Homepage: https://example.invalid/plantkeeper
Description: plant-care master: nodes report, the master decides safely
 PlantKeeper's master receives sensor readings from ESP32 nodes over HTTP,
 stores every reading (SQLite or PostgreSQL) and decides ON/OFF for every
 relay from the settings in /etc/plantkeeper/plantkeeper.toml. An ON answer
 is a lease the node lets run out by itself, so a node that loses the master
 stays OFF.
 .
 The service runs as the plantkeeper user; the admin token is generated at
 install.
CONTROL

mkdir -p "$outdir"
deb="$outdir/plantkeeper_${version}_${arch}.deb"
dpkg-deb --root-owner-group "-Z${DEB_COMPRESSION:-xz}" --build "$stage" "$deb" >/dev/null
echo "$deb"
