#!/bin/sh
# tests/run.sh - build and run every test; the last line is "N passed, N failed".
# Each part prints "ok NAME" or "FAIL NAME: why"; this script only counts
# (and shows "skip NAME: why" lines, which are not counted).
# Usage: sh tests/run.sh [PATTERN]   (PATTERN filters system tests by name)
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
WALTER=${WALTER:-$top/walter}
TCC=${TCC:-cc}
export WALTER top
# Everything of this run lives in its own directory, so runs (plain and
# make asan, say) can go on side by side; it is removed when all passed.
run=tests/tmp/run.$$
rm -rf "$run"
mkdir -p "$run/bin"
log=$run/results.txt
: > "$log"

say() { printf '%s\n' "$*" | tee -a "$log"; }

# 1. unit tests: tests/unit_*.c, linked with the library layers.
for src in tests/unit_*.c; do
	[ -f "$src" ] || continue
	[ -z "$WALTER_EMU" ] || { echo "skip unit tests: native builds of the library layers, not \$WALTER"; break; }
	name=$(basename "$src" .c)
	if ! $TCC -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Wall -Wextra -Iinclude -Itests \
		-o "$run/bin/$name" "$src" yaml_mini.c http_mini.c -lm 2>$run/$name.cc; then
		say "FAIL $name: does not compile"; sed 's/^/    /' $run/$name.cc; continue
	fi
	"$run/bin/$name" > "$run/$name.out" 2>&1
	rc=$?
	grep -aE "^(ok|FAIL) " "$run/$name.out" | sed "s|^ok |ok $name: |; s|^FAIL |FAIL $name: |" | tee -a "$log" | grep '^FAIL' || :
	if [ $rc -ne 0 ] && ! grep -aq '^FAIL' "$run/$name.out"; then
		say "FAIL $name: exited $rc"; tail -5 "$run/$name.out"
	fi
done

# 2. YAML golden cases: NAME.yaml with NAME.json (expected output) or
#    NAME.err (expected first stderr line, exit 2).
for y in tests/yaml/*.yaml; do
	[ -f "$y" ] || continue
	base=${y%.yaml}; name=yaml:$(basename "$base")
	out=$run/yaml.out; err=$run/yaml.err
	"$WALTER" -yaml-to-json "$y" >"$out" 2>"$err"; rc=$?
	if [ -f "$base.json" ]; then
		if [ $rc -eq 0 ] && cmp -s "$out" "$base.json"; then say "ok $name"
		else say "FAIL $name: exit $rc, output differs"; diff "$base.json" "$out" | head -5; head -2 "$err"; fi
	elif [ -f "$base.err" ]; then
		if [ $rc -eq 2 ] && [ "$(head -1 "$err")" = "$(head -1 "$base.err")" ]; then say "ok $name"
		else say "FAIL $name: exit $rc, got: $(head -1 "$err")"; echo "    want: $(head -1 "$base.err")"; fi
	else
		say "FAIL $name: no .json or .err beside it"
	fi
done

# 3. system tests: each tests/sys/*.sh prints ok/FAIL lines itself.
for t in tests/sys/*.sh; do
	[ -f "$t" ] || continue
	case $t in */lib.sh) continue ;; esac
	[ -n "$1" ] && case $t in *"$1"*) ;; *) continue ;; esac
	name=$(basename "$t" .sh)
	tmp=$top/$run/$name; mkdir -p "$tmp"
	(cd "$tmp" && TMPT=$tmp sh "$top/$t") > "$run/$name.out" 2>&1
	rc=$?
	grep -aE "^(ok|FAIL) " "$run/$name.out" | sed "s|^ok |ok $name: |; s|^FAIL |FAIL $name: |" | tee -a "$log" | grep '^FAIL' >/dev/null || :
	grep -aE '^FAIL ' "$run/$name.out" | head -20
	grep -aE '^skip ' "$run/$name.out" | sed "s|^skip |skip $name: |"
	grep -aqE '^(ok|FAIL|skip) ' "$run/$name.out" || { say "FAIL $name: printed no result (exit $rc)"; tail -5 "$run/$name.out"; }
	if [ $rc -ne 0 ] && ! grep -aq '^FAIL' "$run/$name.out"; then
		say "FAIL $name: script exited $rc"; tail -5 "$run/$name.out"
	fi
done

# 4. the shared YAML conformance cases, when ../shared is beside us.
conf=$top/../shared/bin/yaml-conformance
if [ -z "$1" ] && [ -x "$conf" ] && command -v python3 >/dev/null; then
	"$conf" "$WALTER" > $run/conformance.out 2>&1; rc=$?
	tail -3 $run/conformance.out
	if python3 - $run/conformance.out <<'PY'
import re, sys
t = open(sys.argv[1]).read()
c = dict((k, int(v)) for k, v in re.findall(r"(\S+) (\d+)", t.splitlines()[-3]))
valid = c["pass"] + c["rejected"] + c["WRONG"]
invalid = c["error-ok"] + c["lenient"]
ok = c["WRONG"] == 0 and c["CRASH"] == 0 and c["pass"] >= 0.9 * valid and c["error-ok"] >= 0.9 * invalid
sys.exit(0 if ok else 1)
PY
	then say "ok yaml-conformance"; else say "FAIL yaml-conformance: below 90% or WRONG/CRASH ($run/conformance.out)"; fi
elif [ -z "$1" ]; then
	echo "skipped yaml-conformance: ../shared/bin/yaml-conformance or python3 not found"
fi

p=$(grep -c '^ok ' "$log"); f=$(grep -c '^FAIL ' "$log")
[ "$f" -eq 0 ] && rm -rf "$run"
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
