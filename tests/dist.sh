#!/bin/sh
# tests/dist.sh [ARCH...] - what make dist hands to users (make test-dist):
# two builds in two directories give the same bytes, SHA256SUMS checks,
# each binary is static for its architecture, carries no build path and
# runs the examples (under qemu-user when foreign), a missing toolchain is
# named. Prints "ok NAME" / "FAIL NAME: why" and "N passed, N failed".
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
[ $# -gt 0 ] || set -- x86_64 aarch64 armhf
arches=$*
version=$(sed -n 's/^#define WALTER_VERSION "\(.*\)"$/\1/p' walter.c)
tmp=$top/tests/tmp/dist.$$
rm -rf "$tmp"
mkdir -p "$tmp"
pass=0 fail=0

t() {
	_n=$1
	shift
	if "$@"; then
		echo "ok $_n"
		pass=$((pass + 1))
	else
		echo "FAIL $_n: $*"
		fail=$((fail + 1))
	fi
}

# Two copies of what a release is built from, at paths of different
# lengths, built with different umasks, time zones and locales.
a=$tmp/a b=$tmp/build-b/a-longer-path
for d in "$a" "$b"; do
	mkdir -p "$d"
	tar cf - --exclude=./.git --exclude=./tests/tmp --exclude=./tests/bin --exclude=./dist . | (cd "$d" && tar xf -)
done
(cd "$a" && umask 022 && TZ=UTC LC_ALL=C make -s dist DIST_ARCHES="$arches") >"$tmp/a.log" 2>&1
ra=$?
(cd "$b" && umask 077 && TZ=Pacific/Chatham LC_ALL=C.UTF-8 make -s dist DIST_ARCHES="$arches") >"$tmp/b.log" 2>&1
rb=$?
t dist-first-build [ $ra = 0 ] || sed 's/^/    /' "$tmp/a.log"
t dist-second-build [ $rb = 0 ] || sed 's/^/    /' "$tmp/b.log"

files="walter.1 SHA256SUMS"
for arch in $arches; do files="walter-$version-linux-$arch $files"; done
t dist-holds-exactly sh -c "[ \"\$(cd '$a/dist' && ls | sort)\" = \"\$(printf '%s\n' $files | sort)\" ]"
for f in $files; do
	t "reproducible-$f" cmp "$a/dist/$f" "$b/dist/$f"
done
t sha256sum-c sh -c "cd '$a/dist' && sha256sum -c --quiet SHA256SUMS"
t man-page-shipped cmp walter.1 "$a/dist/walter.1"

# runner ARCH: how to start a binary of ARCH here ("" when native).
runner() {
	case $1 in
	"$(uname -m)") echo "" ;;
	aarch64) command -v qemu-aarch64-static ;;
	armhf) command -v qemu-arm-static ;;
	riscv64) command -v qemu-riscv64-static ;;
	x86_64) command -v qemu-x86_64-static ;;
	esac
}

for arch in $arches; do
	bin=$a/dist/walter-$version-linux-$arch
	case $arch in
	x86_64) want='ELF 64-bit LSB executable, x86-64,' ;;
	aarch64) want='ELF 64-bit LSB executable, ARM aarch64,' ;;
	armhf) want='ELF 32-bit LSB executable, ARM, EABI5' ;;
	riscv64) want='ELF 64-bit LSB executable, UCB RISC-V,' ;;
	esac
	info=$(file -b "$bin")
	t "$arch-elf" sh -c "printf '%s' '$info' | grep -qF '$want'"
	t "$arch-static" sh -c "printf '%s' '$info' | grep -q 'statically linked' && ! printf '%s' '$info' | grep -q interpreter"
	t "$arch-stripped" sh -c "printf '%s' '$info' | grep -q ', stripped'"
	t "$arch-no-build-path" sh -c "! grep -aq -e '$tmp' -e '$top' '$bin'"
	if [ "$arch" != "$(uname -m)" ] && [ -z "$(runner "$arch")" ]; then
		t "$arch-runs" false "no qemu-user for $arch (apt-get install qemu-user-static)"
		continue
	fi
	run=$(runner "$arch")
	t "$arch-version" sh -c "[ \"\$($run '$bin' -version)\" = 'walter version $version' ]"
	for ex in seed d1 d2; do
		t "$arch-example-$ex" sh -c "cd examples && $run '$bin' -c $ex.yml -deploy >/dev/null 2>'$tmp/ex.err'"
	done
	t "$arch-example-output" grep -q 'INFO \[ship\] shipping' "$tmp/ex.err"
done

# A missing toolchain stops make dist with the packages to install, and
# leaves no binary behind.
(cd "$a" && make -s dist DIST_ARCHES=aarch64 aarch64_CC=walter-no-such-gcc) >"$tmp/miss.out" 2>&1
r=$?
t missing-toolchain-fails [ $r != 0 ]
t missing-toolchain-says-packages grep -q 'apt-get install gcc-walter-no-such musl-dev:arm64' "$tmp/miss.out"
t missing-toolchain-no-binary [ ! -e "$a/dist/walter-$version-linux-aarch64" ]
(cd "$a" && make -s dist DIST_ARCHES=riscv64 MUSL_LIBDIR=/nonexistent) >"$tmp/miss.out" 2>&1
t missing-musl-riscv64-explained grep -q 'Debian 12 has no musl-dev:riscv64' "$tmp/miss.out"
(cd "$a" && make -s dist DIST_ARCHES=sparc) >"$tmp/miss.out" 2>&1
t unknown-arch-refused grep -q 'unknown architecture sparc' "$tmp/miss.out"

# A release tag that disagrees with WALTER_VERSION stops make dist.
if command -v git >/dev/null; then
	(cd "$a" && git init -q && git add -A . && git -c user.name=t -c user.email=t@localhost commit -qm t &&
		git tag v0.0.0-wrong && make -s dist) >"$tmp/tag.out" 2>&1
	t tag-mismatch-refused grep -q "HEAD is tagged v0.0.0-wrong but walter.c says $version" "$tmp/tag.out"
else
	echo "skip tag-mismatch-refused: no git"
fi

[ $fail = 0 ] && rm -rf "$tmp"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
