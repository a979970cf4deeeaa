#!/bin/sh
# tests/cross.sh ARCH BINARY - the test suite against a foreign walter
# binary under qemu-user (make test-cross). Only walter is emulated: the
# tasks' commands, the test scripts and their servers run natively.
#
# The subset: everything that runs $WALTER, that is every system test, the
# YAML golden cases and the YAML conformance cases. Left out, each with a
# "skip" line: the C unit tests and the two valgrind tests (they build and
# check native code, not $WALTER), the peak-RSS bound (it would measure
# qemu) and the subreaper check (qemu-user 7.2, Debian 12's, answers
# PR_SET_CHILD_SUBREAPER with EINVAL instead of passing it on).
cd "$(dirname "$0")/.." || exit 2
arch=$1 bin=$2
case $arch in
aarch64) q=aarch64 ;;
armhf) q=arm ;;
riscv64) q=riscv64 ;;
x86_64) q=x86_64 ;;
*) echo "tests/cross.sh: unknown architecture '$arch'" >&2; exit 2 ;;
esac
if ! emu=$(command -v qemu-$q-static); then
	echo "tests/cross.sh: qemu-$q-static not found: apt-get install qemu-user-static" >&2
	exit 2
fi
[ -x "$bin" ] || { echo "tests/cross.sh: no binary $bin (make dist)" >&2; exit 2; }
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
# A wrapper that execs the emulator: the process the tests start, signal
# and watch is the emulated walter itself. Absolute paths, since some
# tests run walter with a PATH of their own.
dir=$(pwd)/tests/tmp/cross-$arch
mkdir -p "$dir"
printf '#!/bin/sh\nexec %s %s "$@"\n' "$emu" "$bin" > "$dir/walter"
chmod +x "$dir/walter"
"$dir/walter" -version | grep -q '^walter version ' || { echo "tests/cross.sh: $bin does not run under $emu" >&2; exit 1; }
WALTER=$dir/walter WALTER_EMU=$emu WALTER_BIN=$bin
export WALTER WALTER_EMU WALTER_BIN
exec sh tests/run.sh "$3"
