#!/usr/bin/env bash
# The Raspberry Pi part of CI (.ci/run): cross-build both Pi targets, run each under user-mode
# qemu (pi-smoke.sh), package them, and install/reinstall/purge the amd64 package on this
# machine (deb-smoke.sh). Run as root from anywhere in the repository.
#   PI_PROFILE: the cargo profile of the cross builds (default `pi`, the shipped one).
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$(date +%s)
step() { echo "== pi: $* ($(($(date +%s) - started))s)"; }
profile=${PI_PROFILE:-pi}

step "toolchains"
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v arm-linux-gnueabihf-gcc >/dev/null || missing+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
command -v shellcheck >/dev/null || missing+=(shellcheck)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
rustup target add aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf >/dev/null 2>&1

step "shellcheck"
shellcheck deploy/ci/*.sh deploy/debian/build-deb.sh deploy/debian/postinst deploy/debian/prerm \
    deploy/debian/postrm tests/fixtures/v0.1.0/make-fixture.sh

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out="$target_dir/debian"

# Both targets in one cargo run: the build scripts and proc macros are compiled once for the
# host, and one target's dependencies build while the other's single-threaded LTO link runs.
step "build aarch64 and armv7 ($profile)"
cargo build --locked --profile "$profile" \
    --target aarch64-unknown-linux-gnu --target armv7-unknown-linux-gnueabihf

#      rust target                     package  qemu          sysroot
for spec in "aarch64-unknown-linux-gnu     arm64    qemu-aarch64  /usr/aarch64-linux-gnu" \
    "armv7-unknown-linux-gnueabihf armhf    qemu-arm      /usr/arm-linux-gnueabihf"; do
    read -r triple arch qemu sysroot <<<"$spec"
    binary="$target_dir/$triple/$profile/plantkeeper"
    echo "$(stat -c %s "$binary") bytes: $binary"
    step "run $triple under $qemu"
    deploy/ci/pi-smoke.sh "$binary" "$qemu" -L "$sysroot"
    step "package $arch"
    deploy/debian/build-deb.sh "$arch" "$binary" "$out"
done

# The install test needs a package for this machine: the debug binary `cargo test` built (and
# tested) is enough to test the packaging; an optimised amd64 build would add minutes for
# nothing here. (`cargo build` would relink it: without dev-dependencies the features differ.)
step "install the amd64 package"
[ -x "$target_dir/debug/plantkeeper" ] || cargo build --locked --bin plantkeeper
deb=$(DEB_COMPRESSION=gzip deploy/debian/build-deb.sh amd64 "$target_dir/debug/plantkeeper" "$out/test")
deploy/ci/deb-smoke.sh "$deb"
step "done"
