#!/bin/sh
# tests/run.sh - build and run every test; the last line is "N passed, N failed".
# Each part prints "ok NAME" or "FAIL NAME: why"; this script counts them,
# prints one line per test file with its counts as it goes, and the total.
# Usage: sh tests/run.sh [PATTERN]   (PATTERN filters golden logs and system
#        tests by file name; UPDATE_GOLDEN=1 rewrites the golden .log files).
# Every JUnit file the tests write is checked against the xunit schema.
# "skip NAME: why" lines are shown, not counted.
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

# tally FILE: the counts of the results logged since the last tally.
mark=0
tally() {
	_new=$run/new.txt
	tail -n +$((mark + 1)) "$log" > "$_new"
	mark=$(wc -l < "$log")
	[ -s "$_new" ] || return 0
	printf '%-32s %4d passed, %d failed\n' "$1" "$(grep -c '^ok ' "$_new")" "$(grep -c '^FAIL ' "$_new")"
}

# wanted NAME: no PATTERN given, or NAME contains it.
wanted() { [ -z "$pat" ] || case $1 in *"$pat"*) return 0 ;; *) return 1 ;; esac; }
pat=$1

# 1. unit tests: tests/unit_*.c, linked with the library layers
#    (unit_walter.c includes walter.c itself, as the fuzz targets do).
for src in tests/unit_*.c; do
	[ -f "$src" ] || continue
	[ -z "$WALTER_EMU" ] || { echo "skip unit tests: native builds of the library layers, not \$WALTER"; break; }
	name=$(basename "$src" .c)
	if ! $TCC -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Wall -Wextra -Iinclude -Itests \
		-o "$run/bin/$name" "$src" yaml_mini.c http_mini.c -lm 2>$run/$name.cc; then
		say "FAIL $name: does not compile"; sed 's/^/    /' $run/$name.cc; tally "$src"; continue
	fi
	"$run/bin/$name" > "$run/$name.out" 2>&1
	rc=$?
	grep -aE "^(ok|FAIL) " "$run/$name.out" | sed "s|^ok |ok $name: |; s|^FAIL |FAIL $name: |" | tee -a "$log" | grep '^FAIL' || :
	if [ $rc -ne 0 ] && ! grep -aq '^FAIL' "$run/$name.out"; then
		say "FAIL $name: exited $rc"; tail -5 "$run/$name.out"
	fi
	tally "$src"
done

# 2. YAML golden cases: NAME.yaml with NAME.json (expected output) or
#    NAME.err (expected first stderr line, exit 2). config_NAME.yaml is a
#    pipeline file checked by the config layer (-check -c) instead.
for y in tests/yaml/*.yaml; do
	[ -f "$y" ] || continue
	base=${y%.yaml}; name=yaml:$(basename "$base")
	out=$run/yaml.out; err=$run/yaml.err
	case $name in
	yaml:config_*) "$WALTER" -check -c "$y" >"$out" 2>"$err" </dev/null; rc=$? ;;
	*) "$WALTER" -yaml-to-json "$y" >"$out" 2>"$err"; rc=$? ;;
	esac
	if [ -f "$base.json" ]; then
		if [ $rc -eq 0 ] && cmp -s "$out" "$base.json"; then say "ok $name" >/dev/null
		else say "FAIL $name: exit $rc, output differs"; diff "$base.json" "$out" | head -5; head -2 "$err"; fi
	elif [ -f "$base.err" ]; then
		if [ $rc -eq 2 ] && [ "$(head -1 "$err")" = "$(head -1 "$base.err")" ]; then say "ok $name" >/dev/null
		else say "FAIL $name: exit $rc, got: $(head -1 "$err")"; echo "    want: $(head -1 "$base.err")"; fi
	else
		say "FAIL $name: no .json or .err beside it"
	fi
done
tally "tests/yaml/*.yaml"

# 3. golden logs: tests/golden/NAME.yml run in a fresh directory (flags
#    from NAME.args), everything walter printed plus "exit N", with clock
#    times and durations masked, must equal NAME.log (as runit's .dist).
gmask() {
	sed -E 's/^[0-9]{2}:[0-9]{2}:[0-9]{2} /HH:MM:SS /; s/\(([0-9]+\.[0-9]{2}|[0-9]+m[0-9]{2})s\)/(Ns)/g'
}
for y in tests/golden/*.yml; do
	[ -f "$y" ] || continue
	base=${y%.yml}; name=$(basename "$base")
	wanted "golden/$name" || continue
	d=$top/$run/golden/$name; mkdir -p "$d"
	cp "$y" "$d/$name.yml"
	args=$(cat "$base.args" 2>/dev/null)
	# A clean environment (no secrets to mask, no colour); the outer
	# subshell's stderr takes the shell's own "Terminated" notice.
	# shellcheck disable=SC2086 # args are flags, split on purpose
	( (cd "$d" && exec env -i PATH="$PATH" HOME="$d" LC_ALL=C \
		${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} \
		"$WALTER" -c "$name.yml" $args </dev/null >"$d/raw.log" 2>&1)
		echo "exit $?" >>"$d/raw.log") 2>/dev/null
	gmask < "$d/raw.log" > "$d/got.log"
	if [ -n "$UPDATE_GOLDEN" ]; then
		cp "$d/got.log" "$base.log"
	fi
	if [ ! -f "$base.log" ]; then
		say "FAIL golden:$name: no $base.log (UPDATE_GOLDEN=1 writes it)"
	elif diff -u "$base.log" "$d/got.log" > "$d/diff"; then
		say "ok golden:$name" >/dev/null
	else
		say "FAIL golden:$name: the log differs (- expected, + got):"; sed -n '3,40p' "$d/diff"
	fi
done
tally "tests/golden/*.yml"

# 4. system tests: each tests/sys/*.sh prints ok/FAIL lines itself.
for t in tests/sys/*.sh; do
	[ -f "$t" ] || continue
	case $t in */lib.sh) continue ;; esac
	name=$(basename "$t" .sh)
	wanted "$name" || continue
	tmp=$top/$run/$name; mkdir -p "$tmp"
	(cd "$tmp" && TMPT=$tmp sh "$top/$t") > "$run/$name.out" 2>&1
	rc=$?
	grep -aE "^(ok|FAIL) " "$run/$name.out" | sed "s|^ok |ok $name: |; s|^FAIL |FAIL $name: |" >> "$log"
	grep -aE '^FAIL ' "$run/$name.out" | head -20
	grep -aE '^skip ' "$run/$name.out" | sed "s|^skip |skip $name: |"
	grep -aqE '^(ok|FAIL|skip) ' "$run/$name.out" || { say "FAIL $name: printed no result (exit $rc)"; tail -5 "$run/$name.out"; }
	if [ $rc -ne 0 ] && ! grep -aq '^FAIL' "$run/$name.out"; then
		say "FAIL $name: script exited $rc"; tail -5 "$run/$name.out"
	fi
	tally "$t"
done

# 5. every JUnit file the tests above wrote (*.xml in this run's
#    directory) must be valid against Jenkins' xunit schema.
xsd=$top/../shared/schemas/junit-10.xsd
if ! command -v xmllint >/dev/null; then
	say "FAIL junit-schema: xmllint not found (apt-get install libxml2-utils)"
elif [ ! -f "$xsd" ]; then
	echo "skip junit-schema: $xsd not found"
else
	find "$run" -name '*.xml' -type f > "$run/junit.list"
	while IFS= read -r x; do
		if xmllint --noout --schema "$xsd" "$x" >/dev/null 2>"$run/xsd.err"; then
			say "ok junit-schema: ${x#"$run"/}" >/dev/null
		else
			say "FAIL junit-schema: ${x#"$run"/}"; head -3 "$run/xsd.err"
		fi
	done < "$run/junit.list"
	# the whole suite writes dozens; none found means this check broke
	[ -n "$pat" ] || [ "$(wc -l < "$run/junit.list")" -ge 20 ] ||
		say "FAIL junit-schema: only $(wc -l < "$run/junit.list") JUnit files found"
	tally "JUnit files (xmllint --schema)"
fi

# 6. the shared YAML conformance cases, when ../shared is beside us.
conf=$top/../shared/bin/yaml-conformance
if [ -z "$pat" ] && [ -x "$conf" ] && command -v python3 >/dev/null; then
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
	then say "ok yaml-conformance" >/dev/null; else say "FAIL yaml-conformance: below 90% or WRONG/CRASH ($run/conformance.out)"; fi
	tally "../shared yaml-conformance"
elif [ -z "$pat" ]; then
	echo "skipped yaml-conformance: ../shared/bin/yaml-conformance or python3 not found"
fi

p=$(grep -c '^ok ' "$log"); f=$(grep -c '^FAIL ' "$log")
[ "$f" -eq 0 ] && rm -rf "$run"
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
