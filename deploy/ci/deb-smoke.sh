#!/usr/bin/env bash
# Installs a plantkeeper .deb on this machine (root, systemd not required) and checks what the
# package promises: its contents, the user, the state directory, a root-only admin token whose
# SHA-256 the service's environment file carries, settings that pass `check`, a master that
# runs as the plantkeeper user and accepts that token, a second install that changes nothing,
# and a purge that leaves nothing behind.
#   deploy/ci/deb-smoke.sh PATH/plantkeeper_VERSION_ARCH.deb
set -euo pipefail

deb=$(realpath "$1")
etc=/etc/plantkeeper
fail() { echo "deb-smoke: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "must run as root (dpkg -i)"
if dpkg -s plantkeeper >/dev/null 2>&1; then fail "plantkeeper is already installed here"; fi

# (grep -q on a captured text: on a pipe it may close early and fail the writer under pipefail)
info=$(dpkg-deb --info "$deb")
grep -q '^ Package: plantkeeper$' <<<"$info" || fail "not a plantkeeper package"
contents=$(dpkg-deb --contents "$deb")
[[ "$contents" == "drwxr-xr-x root/root "* ]] || fail "the package's root directory is not 0755 root"
for path in ./usr/bin/plantkeeper ./usr/lib/systemd/system/plantkeeper.service \
    ./etc/plantkeeper/plantkeeper.toml ./usr/share/doc/plantkeeper/copyright; do
    grep -q " $path\$" <<<"$contents" || fail "$path is not in the package"
done
[ "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" = "$etc/plantkeeper.toml" ] ||
    fail "the settings are not the one conffile"

pid=
work=$(mktemp -d)
cleanup() {
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
    dpkg --purge plantkeeper >/dev/null 2>&1 || true
}
trap cleanup EXIT

dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "dpkg -i failed"; }
token=$(tr -d '\n' <"$etc/admin.token")
[[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "admin.token does not hold 64 hex characters"
grep -q "$token" "$work/install.log" || fail "the first install did not print the admin token"
[ "$(stat -c '%a %U' "$etc/admin.token")" = "600 root" ] || fail "admin.token is not root-only"
[ "$(stat -c '%a %U' "$etc/admin-token.env")" = "600 root" ] || fail "admin-token.env is not root-only"
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
[ "$(cat "$etc/admin-token.env")" = "PLANTKEEPER_ADMIN_TOKEN_SHA256=$hash" ] ||
    fail "admin-token.env does not carry the token's SHA-256"
user=$(getent passwd plantkeeper) || fail "no plantkeeper system user"
[[ "$user" == *:/var/lib/plantkeeper:/usr/sbin/nologin ]] || fail "unexpected user: $user"
[ "$(stat -c '%a %U' /var/lib/plantkeeper)" = "750 plantkeeper" ] || fail "bad state directory"
[ "$(stat -c '%a %U %G' "$etc/plantkeeper.toml")" = "640 root plantkeeper" ] ||
    fail "the settings should be root:plantkeeper 0640"

# The unit as systemd reads it (no running systemd needed).
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /usr/lib/systemd/system/plantkeeper.service ||
        fail "systemd-analyze verify rejects plantkeeper.service"
fi

# What the service does: the environment file, then check and serve as the plantkeeper user.
set -a
# shellcheck disable=SC1091
. "$etc/admin-token.env"
set +a
summary=$(/usr/bin/plantkeeper check --config "$etc/plantkeeper.toml") || fail "check refused the packaged settings"
grep -q PLANTKEEPER_ADMIN_TOKEN_SHA256 <<<"$summary" || fail "check did not take the admin digest from the environment"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s/^listen = .*/listen = \"127.0.0.1:$port\"/" "$etc/plantkeeper.toml" >"$work/plantkeeper.toml"
chmod 0755 "$work"
chmod 0644 "$work/plantkeeper.toml"
(cd /var/lib/plantkeeper && exec setpriv --reuid=plantkeeper --regid=plantkeeper --init-groups /usr/bin/plantkeeper serve \
    --config "$work/plantkeeper.toml") >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/nodes")
[ "$code" = 200 ] || { cat "$work/serve.log" >&2; fail "the admin token got HTTP $code"; }
kill -TERM "$pid"
wait "$pid" || { cat "$work/serve.log" >&2; fail "serve did not stop cleanly"; }
pid=
[ "$(stat -c %U /var/lib/plantkeeper/plantkeeper.db)" = plantkeeper ] ||
    fail "the database is not the plantkeeper user's"

# A second install (as an upgrade to the same version does) changes nothing.
before=$(sha256sum "$etc"/* /var/lib/plantkeeper/plantkeeper.db; stat -c '%n %a %U %G' "$etc"/*)
dpkg -i "$deb" >"$work/reinstall.log" 2>&1 || { cat "$work/reinstall.log" >&2; fail "second dpkg -i failed"; }
after=$(sha256sum "$etc"/* /var/lib/plantkeeper/plantkeeper.db; stat -c '%n %a %U %G' "$etc"/*)
[ "$before" = "$after" ] || fail "the second install changed $etc or the database"
if grep -q "$token" "$work/reinstall.log"; then fail "the second install printed the token again"; fi

# remove keeps the data; purge removes it.
dpkg --remove plantkeeper >/dev/null
if [ ! -f /var/lib/plantkeeper/plantkeeper.db ] || [ ! -f "$etc/admin.token" ]; then
    fail "remove deleted the database or the token"
fi
dpkg --purge plantkeeper >/dev/null
for path in /usr/bin/plantkeeper /var/lib/plantkeeper "$etc"; do
    [ ! -e "$path" ] || fail "$path is left after purge"
done
echo "deb-smoke: ok: $(basename "$deb"): contents, user, token, check, serve, reinstall, remove, purge"
