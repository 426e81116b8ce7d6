#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/install/test_install.sh - `make install` checked file by file, as
# `make install-test` (one suite of `make test`) runs it. No root needed,
# nothing outside scratch directories is touched.
#
#   BUILD=build MAKE=make tests/install/test_install.sh
#
# 1. make install DESTDIR=$(mktemp -d) PREFIX=/usr, over an operator's
#    etc/natsync/single-box.cfg: exactly the expected files, with their
#    modes, and the operator's file untouched; a second install succeeds.
# 2. the unit: its ExecStart/ExecReload/capabilities, and
#    `systemd-analyze verify` (paths pointed into DESTDIR) says nothing.
# 3. natsyncd --version and natsyncctl --version from the installed tree:
#    exit 0, one version, the map ABI of common/natsync.h.
# 4. each man page renders (man -l, no warning but layout ones) with a NAME
#    section that lexgrog (whatis) reads; the pages say what operators look
#    up: --check-start, the exit statuses of both programs, show metrics.
# 5. make uninstall DESTDIR=...: no installed file left, the operator's
#    config kept.
# 6. make CC=clang and make CFLAGS='-O1 -g' build natsyncd and natsyncctl
#    into their own build directories ($BUILD/install-test/); clang also
#    builds the C test programs (test_unit, test_bpf, bench_pkt), which share
#    the header-only toolkit of tests/bpf (built, not run: no root here).
#
# Prints "ok - ..." or "FAIL: ..." per check, "SKIP: reason" when a tool is
# missing (make deps installs them all), and last:
# "install-test: N passed, M failed, K skipped". Exit 0 when nothing failed
# and nothing was skipped, 77 when only skipped, else 1.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
case "$BUILD" in
/*) ;;
*) BUILD=$repo/$BUILD ;;
esac
scratch=$BUILD/install-test
n_pass=0 n_fail=0 n_skip=0
D=""
cleanup() { [ -n "$D" ] && rm -rf "$D"; }
trap cleanup EXIT

ok() { echo "ok - $*"; n_pass=$((n_pass + 1)); }
fail() { echo "FAIL: $*"; n_fail=$((n_fail + 1)); }
skip() { echo "SKIP: $*"; n_skip=$((n_skip + 1)); }
# check NAME CMD...: ok when CMD exits 0
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name"; fi
}
# runs CMD...: CMD exits 0 (its output dropped)
runs() { "$@" >/dev/null 2>&1; }
# mk LOG ARGS...: make ARGS, output in LOG, shown when it fails
mk() {
	local log=$1
	shift
	if $MAKE --no-print-directory "$@" >"$log" 2>&1; then
		return 0
	fi
	sed 's/^/    | /' "$log" | tail -n 25
	return 1
}

mkdir -p "$scratch" || exit 1
D=$(mktemp -d /tmp/natsync-install.XXXXXX) || exit 1
abi=$(sed -n 's/^#define NS_ABI_VERSION \([0-9]*\).*/\1/p' common/natsync.h)
[ -n "$abi" ] || { echo "FAIL: no NS_ABI_VERSION in common/natsync.h"; exit 1; }

# ---- 1. install, file by file ---------------------------------------------
# What make install must put under DESTDIR with PREFIX=/usr: "MODE PATH".
expected=(
	"755 usr/sbin/natsyncd"
	"755 usr/sbin/natsyncctl"
	"644 usr/lib/systemd/system/natsyncd@.service"
	"644 usr/share/man/man8/natsyncd.8"
	"644 usr/share/man/man8/natsyncctl.8"
	"644 usr/share/man/man5/natsync.conf.5"
)
for f in configs/*.cfg; do
	expected+=("644 etc/natsync/${f#configs/}.example")
done
operator_cfg=etc/natsync/single-box.cfg
mkdir -p "$D/etc/natsync"
echo "# the operator's own config" >"$D/$operator_cfg"
chmod 600 "$D/$operator_cfg"
operator_sum=$(sha256sum <"$D/$operator_cfg")

if mk "$scratch/install.log" BUILD="$BUILD" install DESTDIR="$D" PREFIX=/usr; then
	ok "make install DESTDIR=$D PREFIX=/usr"
else
	fail "make install DESTDIR=$D PREFIX=/usr"
fi
want=$(printf '%s\n' "${expected[@]}" "600 $operator_cfg" | sort -k2)
have=$(cd "$D" && find . \( -type f -o -type l \) -printf '%m %P\n' | sort -k2)
if [ "$want" = "$have" ]; then
	ok "installed files and modes: exactly the ${#expected[@]} expected (+ the operator's config)"
else
	fail "installed files and modes differ (- expected, + installed):"
	diff <(echo "$want") <(echo "$have") | sed -n 's/^[<>]/    &/p'
fi
check "no BPF object installed (the programs are compiled into natsyncd)" \
	test -z "$(find "$D" -name '*.o' -o -name '*.bpf*')"
check "the operator's etc/natsync/single-box.cfg is not overwritten" \
	test "$(sha256sum <"$D/$operator_cfg")" = "$operator_sum"
same=1
for f in configs/*.cfg; do
	cmp -s "$f" "$D/etc/natsync/${f#configs/}.example" || { echo "    differs: $f"; same=0; }
done
check "each configs/*.cfg installed as etc/natsync/NAME.cfg.example, unchanged" test $same = 1
check "a second make install over the first succeeds" \
	mk "$scratch/install2.log" BUILD="$BUILD" install DESTDIR="$D" PREFIX=/usr

# ---- 2. the systemd unit ---------------------------------------------------
unit=$D/usr/lib/systemd/system/natsyncd@.service
# unit_has LINE: the unit holds exactly this line
unit_has() { grep -qxF -- "$1" "$unit" 2>/dev/null; }
check "unit: ExecStart=/usr/sbin/natsyncd -c /etc/natsync/%i.cfg -f" \
	unit_has "ExecStart=/usr/sbin/natsyncd -c /etc/natsync/%i.cfg -f"
check "unit: ExecReload=/usr/sbin/natsyncctl -c /etc/natsync/%i.cfg reload" \
	unit_has "ExecReload=/usr/sbin/natsyncctl -c /etc/natsync/%i.cfg reload"
check "unit: Restart=always" unit_has "Restart=always"
check "unit: RestartPreventExitStatus=3 (another natsyncd owns the pins: no restart loop)" \
	unit_has "RestartPreventExitStatus=3"
check "unit: CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_SYS_ADMIN CAP_NET_RAW" \
	unit_has "CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_SYS_ADMIN CAP_NET_RAW"
check "unit: no @VARIABLE@ left from dist/natsyncd@.service.in" \
	test -z "$(grep -o '@[A-Z]*@' "$unit" 2>/dev/null)"
if command -v systemd-analyze >/dev/null; then
	# verify checks that ExecStart's program is executable and that man
	# finds the Documentation= pages: point the unit's paths and MANPATH at
	# the installed tree. A template is verified as instance "i".
	mkdir -p "$D/verify"
	sed "s|=/usr/sbin/|=$D/usr/sbin/|" "$unit" >"$D/verify/natsyncd@.service"
	out=$(MANPATH=$D/usr/share/man systemd-analyze verify "$D/verify/natsyncd@.service" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		ok "systemd-analyze verify natsyncd@.service: no complaint"
	else
		fail "systemd-analyze verify natsyncd@.service (exit $rc):"
		sed 's/^/    | /' <<<"$out"
	fi
	rm -rf "$D/verify"
else
	skip "systemd-analyze not installed (Debian package systemd; make deps)"
fi

# ---- 3. --version ----------------------------------------------------------
v_d=$("$D/usr/sbin/natsyncd" --version 2>&1)
rc_d=$?
v_c=$("$D/usr/sbin/natsyncctl" --version 2>&1)
rc_c=$?
re="^natsyncd ([^ ]+) \(map ABI v$abi\)$"
check "installed natsyncd --version: exit 0, 'natsyncd VERSION (map ABI v$abi)' ($v_d)" \
	test $rc_d -eq 0 -a -n "$(grep -E "$re" <<<"$v_d")"
check "installed natsyncctl --version: exit 0, the same version ($v_c)" \
	test $rc_c -eq 0 -a "$v_c" = "${v_d/natsyncd/natsyncctl}"

# ---- 4. man pages ----------------------------------------------------------
if command -v man >/dev/null && command -v lexgrog >/dev/null; then
	for page in man8/natsyncd.8 man8/natsyncctl.8 man5/natsync.conf.5; do
		f=$D/usr/share/man/$page
		name=${page#man?/}
		name=${name%.?}
		text=$(MANWIDTH=80 man --warnings -l "$f" 2>"$scratch/man.err")
		rc=$?
		# Layout warnings of wide tables at 80 columns are not errors.
		warn=$(grep -vE "around line [0-9]+:$|table wider than line width|cannot adjust line|can't break line|will not fit on one page" \
			"$scratch/man.err")
		if [ $rc -eq 0 ] && [ "$(wc -l <<<"$text")" -gt 40 ] && [ -z "$warn" ] &&
			grep -q '^NAME' <<<"$text" && grep -q '^SEE ALSO' <<<"$text"; then
			ok "man -l $page renders ($(wc -l <<<"$text") lines, NAME ... SEE ALSO)"
		else
			fail "man -l $page (exit $rc, $(wc -l <<<"$text") lines):"
			sed 's/^/    | /' <<<"$warn"
		fi
		what=$(lexgrog "$f" 2>&1)
		check "lexgrog $page: whatis reads \"$name - ...\"" \
			test -n "$(grep -F "\"$name - " <<<"$what")"
	done
	# what an operator looks up in them
	# man_says PAGE REGEX: the rendered page has a line matching REGEX
	man_says() { MANWIDTH=200 man -l "$D/usr/share/man/$1" 2>/dev/null | grep -Eq -- "$2"; }
	check "natsyncd(8) documents --check-start" man_says man8/natsyncd.8 'natsyncd -c FILE --check-start'
	check "natsyncd(8) documents exit status 3 (another natsyncd owns the pin path)" \
		man_says man8/natsyncd.8 'Exit status: 0 ok, 1 error.*2 usage, 3'
	check "natsyncd(8) documents the refusal without CAP_SYS_ADMIN" \
		man_says man8/natsyncd.8 'without CAP_SYS_ADMIN'
	check "natsyncctl(8) documents exit statuses 1 usage, 2 unreachable, 3 refused" \
		bash -c "$(declare -f man_says); D='$D'; man_says man8/natsyncctl.8 '^ +1 +usage +error' &&
			 man_says man8/natsyncctl.8 '^ +2 +the +daemon +could +not +be' &&
			 man_says man8/natsyncctl.8 '^ +3 +the +daemon +refused'"
	check "natsyncctl(8) documents show metrics" man_says man8/natsyncctl.8 'show metrics'
	check "natsync.conf(5) documents metrics.listen" man_says man5/natsync.conf.5 'listen'
else
	skip "man or lexgrog not installed (Debian package man-db; make deps)"
fi

# ---- 5. uninstall ----------------------------------------------------------
if mk "$scratch/uninstall.log" BUILD="$BUILD" uninstall DESTDIR="$D" PREFIX=/usr; then
	ok "make uninstall DESTDIR=$D PREFIX=/usr"
else
	fail "make uninstall DESTDIR=$D PREFIX=/usr"
fi
left=$(cd "$D" && find . \( -type f -o -type l \) -printf '%P\n' | grep -vxF "$operator_cfg")
if [ -z "$left" ]; then
	ok "make uninstall left no installed file"
else
	fail "make uninstall left: ${left//$'\n'/ }"
fi
check "make uninstall kept the operator's config" \
	test "$(sha256sum <"$D/$operator_cfg" 2>/dev/null)" = "$operator_sum"
rm -f "$D/$operator_cfg"
check "make uninstall without the operator's config: etc/natsync removed (it was empty)" \
	mk "$scratch/uninstall2.log" BUILD="$BUILD" uninstall DESTDIR="$D" PREFIX=/usr
check "... and etc/natsync is gone" test ! -e "$D/etc/natsync"

# ---- 6. make CC=clang, make CFLAGS=... -------------------------------------
b=$scratch/clang
rm -rf "$b"
if mk "$scratch/clang.log" -j2 BUILD="$b" CC=clang all; then
	ok "make CC=clang builds natsyncd and natsyncctl"
	check "... compiled by clang, with -Werror and -I." \
		grep -qE '^clang .*-Werror.* -I\. .*-c daemon/natsyncctl\.c' "$scratch/clang.log"
	check "... its natsyncd --version runs: $("$b/natsyncd" --version 2>&1)" runs "$b/natsyncd" --version
	check "make CC=clang builds the C test programs (test_unit, test_bpf, bench_pkt)" \
		mk "$scratch/clang-tests.log" -j2 BUILD="$b" CC=clang \
		"$b/test_unit" "$b/test_bpf" "$b/bench_pkt"
else
	fail "make CC=clang builds natsyncd and natsyncctl"
fi
b=$scratch/cflags
rm -rf "$b"
if mk "$scratch/cflags.log" -j2 BUILD="$b" CFLAGS="-O1 -g" all; then
	ok "make CFLAGS='-O1 -g' builds natsyncd and natsyncctl"
	check "... with the user's -O1 and the required -Werror, -I." \
		grep -qE -- '-Werror.* -I\. .* -O1 -g .*-c daemon/natsyncctl\.c' "$scratch/cflags.log"
	check "... its natsyncctl --version runs: $("$b/natsyncctl" --version 2>&1)" runs "$b/natsyncctl" --version
else
	fail "make CFLAGS='-O1 -g' builds natsyncd and natsyncctl"
fi
rm -rf "$scratch/clang" "$scratch/cflags"

echo "install-test: $n_pass passed, $n_fail failed, $n_skip skipped"
[ $n_fail -gt 0 ] && exit 1
[ $n_skip -gt 0 ] && exit 77
exit 0
