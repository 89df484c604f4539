#!/usr/bin/env bash
# Proves the systemd packaging holds on a machine where systemd is not PID 1: `cmake --install`
# lays out the binary, unit, polkit rule, sysusers.d file and sample config (prefix /usr, and
# rewritten paths for another prefix); systemd-sysusers creates the user from the shipped file;
# `systemd-analyze verify` accepts the installed unit without a single warning; its
# `systemd-analyze security --offline` exposure is 2.0 or less; the unit keeps what the daemon
# needs and agrees with the shipped config; the polkit rule is ES5 and allows exactly the
# platform's units (polkit_rule_test.js).
#
#   tests/systemd/check_unit.sh SOURCE_DIR BUILD_DIR ACIS_HEALTHD_BINARY
# A missing tool is a failure (named with its Debian package), never a skip.
set -euo pipefail

src=${1:?usage: check_unit.sh SOURCE_DIR BUILD_DIR ACIS_HEALTHD_BINARY}
build=${2:?usage: check_unit.sh SOURCE_DIR BUILD_DIR ACIS_HEALTHD_BINARY}
binary=${3:?usage: check_unit.sh SOURCE_DIR BUILD_DIR ACIS_HEALTHD_BINARY}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }
need() {
  command -v "$1" >/dev/null 2>&1 ||
    fail "$1 not found: install the Debian package $2 (scripts/install-deps.sh does)"
}
need systemd-analyze systemd
need systemd-sysusers systemd
need node nodejs
need cmake cmake
[[ -d /usr/lib/systemd/system ]] || fail "/usr/lib/systemd/system missing: install the Debian package systemd"
[[ -x /usr/bin/kill ]] || fail "/usr/bin/kill missing: install the Debian package procps"
[[ -x $binary ]] || fail "$binary not built: build the acis-healthd target first"

unit_src=$src/systemd/acis-healthd.service
rules_src=$src/systemd/50-acis-healthd.rules
sysusers_src=$src/systemd/acis-healthd.sysusers.conf
config_src=$src/config/acis-healthd.json

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# unit_values KEY FILE: every value of KEY= in the unit file, one a line, in file order.
unit_values() { sed -n "s/^$1=//p" "$2"; }

# --- cmake --install, prefix /usr -----------------------------------------------------------------
root=$tmp/root
DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install --prefix /usr failed"; }
unit=$root/usr/lib/systemd/system/acis-healthd.service
[[ -x $root/usr/bin/acis-healthd ]] || fail "usr/bin/acis-healthd not installed (or not executable)"
if ! "$root/usr/bin/acis-healthd" --version >"$tmp/version.log" 2>&1 || [[ ! -s $tmp/version.log ]]; then
  cat "$tmp/version.log" >&2
  fail "the installed usr/bin/acis-healthd --version did not run"
fi
for pair in "$unit_src:usr/lib/systemd/system/acis-healthd.service" \
            "$rules_src:usr/share/polkit-1/rules.d/50-acis-healthd.rules" \
            "$sysusers_src:usr/lib/sysusers.d/acis-healthd.conf" \
            "$config_src:etc/acis-healthd/acis-healthd.json"; do
  from=${pair%%:*} to=${pair#*:}
  [[ -f $root/$to ]] || fail "$to not installed"
  cmp -s "$from" "$root/$to" || fail "$to differs from $from (prefix /usr must install it unchanged)"
  [[ $(stat -c %a "$root/$to") == 644 ]] || fail "$to has mode $(stat -c %a "$root/$to"), want 644"
done
ok "cmake --install --prefix /usr: bin, unit, polkit rule, sysusers.d, sample config"

# The unit's ExecStart binary and --config exist in the installed tree.
exec_start=$(unit_values ExecStart "$unit")
read -r -a argv <<<"$exec_start"
[[ ${argv[0]} == /usr/bin/acis-healthd && ${argv[1]} == run && ${argv[2]} == --config ]] ||
  fail "unexpected ExecStart=$exec_start"
[[ -f $root/${argv[3]} ]] || fail "ExecStart names config ${argv[3]}, which the install did not lay out"

# An operator's edited config survives a reinstall.
echo '// edited by the operator' >>"$root/etc/acis-healthd/acis-healthd.json"
DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "second cmake --install failed"; }
grep -q 'edited by the operator' "$root/etc/acis-healthd/acis-healthd.json" ||
  fail "a reinstall overwrote the operator's /etc/acis-healthd/acis-healthd.json"
cp "$config_src" "$root/etc/acis-healthd/acis-healthd.json"
ok "reinstall keeps an existing config"

# --- cmake --install, another prefix: the unit names that prefix's paths ------------------------
other=$tmp/other
DESTDIR=$other cmake --install "$build" --prefix /usr/local >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install --prefix /usr/local failed"; }
other_unit=$other/usr/local/lib/systemd/system/acis-healthd.service
[[ -f $other_unit ]] || fail "prefix /usr/local: unit not installed"
want="/usr/local/bin/acis-healthd run --config /usr/local/etc/acis-healthd/acis-healthd.json"
[[ $(unit_values ExecStart "$other_unit") == "$want" ]] ||
  fail "prefix /usr/local: ExecStart=$(unit_values ExecStart "$other_unit"), want $want"
[[ -x $other/usr/local/bin/acis-healthd && -f $other/usr/local/etc/acis-healthd/acis-healthd.json ]] ||
  fail "prefix /usr/local: binary or config not where the unit says"
ok "prefix /usr/local: the unit names /usr/local/bin and /usr/local/etc"

# --- sysusers.d: the shipped file creates the unit's user -------------------------------------------
mkdir -p "$root/etc"
systemd-sysusers --root="$root" >"$tmp/sysusers.log" 2>&1 ||
  { cat "$tmp/sysusers.log" >&2; fail "systemd-sysusers --root rejected the installed sysusers.d file"; }
user=$(unit_values User "$unit")
group=$(unit_values Group "$unit")
pw=$(grep "^$user:" "$root/etc/passwd") || fail "systemd-sysusers did not create user $user (the unit's User=)"
grep -q "^$group:" "$root/etc/group" || fail "systemd-sysusers did not create group $group (the unit's Group=)"
[[ $(cut -d: -f7 <<<"$pw") == */nologin ]] || fail "user $user has a login shell: $pw"
uid=$(cut -d: -f3 <<<"$pw")
((uid > 0 && uid < 1000)) || fail "user $user is not a system user (uid $uid)"
ok "systemd-sysusers creates $user (uid $uid, nologin) and group $group"

# --- systemd-analyze verify, in the installed tree -------------------------------------------------
# verify needs the ExecStart/ExecReload binaries and the units the service depends on (sysinit.target,
# ...) under --root: the host's unit files and kill are copied next to the installed files.
ln -s usr/bin "$root/bin"
cp /usr/bin/kill "$root/usr/bin/kill"
cp -an /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/"
verify() { systemd-analyze verify --man=no --generators=no --root="$root" "$1" >"$tmp/verify.log" 2>&1; }
verify acis-healthd.service || { cat "$tmp/verify.log" >&2; fail "systemd-analyze verify failed"; }
[[ ! -s $tmp/verify.log ]] || { cat "$tmp/verify.log" >&2; fail "systemd-analyze verify printed warnings"; }
# The check is not vacuous here: a typo and an unparsable value are reported.
sed -e 's/^Type=notify$/Tpye=notify/' -e 's/^ProtectProc=default$/ProtectProc=bogus/' "$unit" \
  >"$root/usr/lib/systemd/system/acis-healthd-broken.service"
verify acis-healthd-broken.service || true
if ! grep -q "Unknown key 'Tpye'" "$tmp/verify.log" || ! grep -q 'bogus' "$tmp/verify.log"; then
  cat "$tmp/verify.log" >&2
  fail "systemd-analyze verify did not report a broken copy of the unit"
fi
ok "systemd-analyze verify: no warnings"

# --- systemd-analyze security ------------------------------------------------------------------------
set +e
systemd-analyze security --offline=yes --threshold=20 --root="$root" "$unit" >"$tmp/security.log" 2>&1
rc=$?
set -e
exposure=$(sed -n 's/.*Overall exposure level for acis-healthd.service: \([0-9.]*\).*/\1/p' "$tmp/security.log")
[[ -n $exposure ]] || { cat "$tmp/security.log" >&2; fail "no exposure figure from systemd-analyze security"; }
if ((rc != 0)) || ! awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
  grep -F '✗' "$tmp/security.log" >&2 || true
  fail "systemd-analyze security exposure $exposure (exit $rc), want <= 2.0"
fi
ok "systemd-analyze security --offline=yes: exposure $exposure (<= 2.0)"

# --- what the daemon needs, and agreement with the shipped config ----------------------------------
facts=$(node "$src/tests/systemd/config_facts.js" "$config_src") || fail "cannot read $config_src"
fact() { node -e 'const f = JSON.parse(process.argv[1]); const v = f[process.argv[2]];
  console.log(Array.isArray(v) ? v.join("\n") : v)' "$facts" "$1"; }

expect_value() {  # KEY VALUE: the unit sets KEY=VALUE (its last assignment)
  local got
  got=$(unit_values "$1" "$unit" | tail -n 1)
  [[ $got == "$2" ]] || fail "unit: $1=$got, want $1=$2"
}
expect_value Type notify
expect_value NotifyAccess main
# shellcheck disable=SC2016 # $MAINPID is systemd's, literally in the unit
expect_value ExecReload '/bin/kill -HUP $MAINPID'
expect_value User acis-healthd
expect_value StateDirectory acis-healthd
expect_value StateDirectoryMode 0750
[[ -n $(unit_values WatchdogSec "$unit") ]] || fail "unit: no WatchdogSec="
[[ $(fact state_dir) == "/var/lib/$(unit_values StateDirectory "$unit")" ]] ||
  fail "config state_dir $(fact state_dir) is not the unit's StateDirectory"
# Sockets: journal, system bus (systemctl -> polkit), PostgreSQL socket; TCP listener and clients.
families=" $(unit_values RestrictAddressFamilies "$unit" | tr '\n' ' ') "
for fam in AF_UNIX AF_INET AF_INET6; do
  [[ $families == *" $fam "* ]] || fail "unit: RestrictAddressFamilies lacks $fam"
done
[[ $(unit_values PrivateNetwork "$unit") != yes ]] || fail "unit: PrivateNetwork=yes cuts the daemon off"
# The process check and the signal step read other users' /proc/PID/cmdline.
case $(unit_values ProtectProc "$unit") in
  invisible | noaccess | ptraceable) fail "unit: ProtectProc hides other users' processes" ;;
esac
# The signal step reaches the platform's processes: CAP_KILL, and no user namespace around it.
grep -q CAP_KILL <<<"$(unit_values CapabilityBoundingSet "$unit")" || fail "unit: CAP_KILL not in CapabilityBoundingSet"
grep -q CAP_KILL <<<"$(unit_values AmbientCapabilities "$unit")" || fail "unit: CAP_KILL not ambient"
[[ $(unit_values PrivateUsers "$unit") != yes ]] || fail "unit: PrivateUsers=yes makes CAP_KILL useless"
[[ $(unit_values DynamicUser "$unit") != yes ]] || fail "unit: DynamicUser=yes breaks the polkit rule"
# rollback_model writes the models folders.
rw=" $(unit_values ReadWritePaths "$unit" | tr '\n' ' ' | sed 's/-\//\//g') "
while read -r dir; do
  [[ -z $dir || $rw == *" $dir "* ]] || fail "unit: models_dir $dir is not in ReadWritePaths (rollback_model)"
done < <(fact models_dirs)
# rollback_model copies a backup with its modes, a setgid folder's included.
[[ $(unit_values RestrictSUIDSGID "$unit") != yes ]] ||
  fail "unit: RestrictSUIDSGID=yes makes rollback_model fail on setgid model folders"
# systemd must not SIGKILL the daemon before its own stop backstop (longest grace + 10s) ends.
stop_us=$(systemd-analyze timespan "$(unit_values TimeoutStopSec "$unit")" |
  sed -n 's/^ *\(μ\|u\)s: \([0-9][0-9]*\)$/\2/p')  # "us:" in the C locale
grace_ms=$(fact max_grace_ms)
[[ -n $stop_us && -n $grace_ms ]] || fail "cannot read TimeoutStopSec or the config's graces"
((stop_us / 1000 >= grace_ms + 10000 + 5000)) ||
  fail "unit: TimeoutStopSec=$(unit_values TimeoutStopSec "$unit") is shorter than the longest grace (${grace_ms} ms) + 10 s backstop + 5 s"
# The sysusers.d user and the polkit rule's user are the unit's user.
grep -q "^u $user " "$sysusers_src" || fail "sysusers.d file does not create $user"
grep -q "var USER = \"$user\";" "$rules_src" || fail "polkit rule is not about user $user"
ok "unit: notify, watchdog, reload, user, state dir, sockets, /proc, CAP_KILL, models, setgid copies, stop timeout"

# --- polkit rule ---------------------------------------------------------------------------------
cp "$rules_src" "$tmp/50-acis-healthd.js"
node --check "$tmp/50-acis-healthd.js" 2>"$tmp/node.log" ||
  { cat "$tmp/node.log" >&2; fail "node --check: the polkit rule is not valid JavaScript"; }
NODE_PATH=${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs \
  node "$src/tests/systemd/polkit_rule_test.js" "$rules_src" "$config_src" ||
  fail "polkit rule test"
ok "polkit rule: valid JavaScript"

echo "PASS: exposure $exposure"
