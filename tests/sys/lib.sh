# tests/sys/lib.sh - sourced by every system test (cwd is a fresh temp dir).
# Results are printed as "ok NAME" / "FAIL NAME: why"; never exit early.
: "${WALTER:?WALTER must name the binary}"

# t NAME COMMAND...: ok when COMMAND succeeds. "t NAME sh -c 'SCRIPT'" runs
# SCRIPT in a subshell of the test, so it sees its variables and functions.
t() {
	_n=$1; shift
	if [ "$1" = sh ] && [ "$2" = -c ]; then
		(eval "$3") && _r=0 || _r=1
	else
		"$@" && _r=0 || _r=1
	fi
	if [ $_r = 0 ]; then echo "ok $_n"; else echo "FAIL $_n: $*"; fi
}

# w ARGS...: run walter; stdout in out.txt, stderr in err.txt, status in $rc.
w() {
	"$WALTER" "$@" >out.txt 2>err.txt </dev/null
	rc=$?
}

# mask: replace clock times and durations so logs compare exactly.
mask() {
	sed -E 's/^[0-9]{2}:[0-9]{2}:[0-9]{2} /HH:MM:SS /; s/[0-9]+(\.[0-9]+)?(ms|s)\b/Ns/g'
}

# has FILE TEXT: FILE contains the fixed string TEXT.
has() { grep -qF -- "$2" "$1"; }

# wait_file PATH [TRIES]: poll (10 ms steps) until PATH exists; bounded.
wait_file() {
	_i=0
	while [ ! -e "$1" ] && [ $_i -lt "${2:-1000}" ]; do sleep 0.01; _i=$((_i + 1)); done
	[ -e "$1" ]
}

# wait_line FILE TEXT [TRIES]: poll (10 ms steps) until FILE holds the
# fixed string TEXT; bounded.
wait_line() {
	_i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $_i -lt "${3:-1000}" ]; do sleep 0.01; _i=$((_i + 1)); done
	grep -qF -- "$2" "$1" 2>/dev/null
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# vg_build NAME: walter built with glibc, dynamically, as ./walter-vg
# (valgrind cannot follow malloc in a static musl binary). Under
# test-cross the test is skipped (it checks a native build, not the
# emulated $WALTER); without valgrind or when the build fails it says
# FAIL NAME... and ends.
vg_build() {
	if [ -n "$WALTER_EMU" ]; then echo "skip all: checks a native build, not the emulated walter"; exit 0; fi
	if ! command -v valgrind >/dev/null; then
		echo "FAIL $1: not installed (apt-get install valgrind)"
		exit 0
	fi
	cc -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$top/include" "$top/walter.c" \
		"$top/yaml_mini.c" "$top/http_mini.c" -o walter-vg -lm || { echo "FAIL $1-build"; exit 0; }
}
