# Files and bytes: the -logDir file (never through a planted link, no
# colours, load warnings in it, clear errors), NUL in strings, tasks
# without /dev/null, wait_for messages.
. "$top/tests/sys/lib.sh"

printf 'pipeline:\n  - name: a\n    command: touch ran; echo hello\n    comand: typo\n' > ok.yml

# -- -logDir: load warnings in the file, no colour codes in it
mkdir -p ld
rm -f ran
w -c ok.yml -logDir ld -color always
f=$(echo ld/walter-*.log)
t logdir-written sh -c '[ "$rc" = 0 ] && [ -f "$f" ] && has "$f" "[a] hello"'
t logdir-has-load-warnings has "$f" 'walter: ok.yml:4:5: warning: unknown key "comand" in a stage'
t logdir-no-colour sh -c '! grep -q "$(printf "\033")" "$f" && grep -q "$(printf "\033")\[34m" err.txt'
t logdir-mode sh -c '[ "$(stat -c %a "$f")" = 644 ]'

# a link planted at the file's predictable name is never written through:
# links for this second and the next two, named with the PID walter will
# have (exec keeps the shell's)
mkdir -p ld2
echo original > target.txt
rm -f ran
sh -c 's=$(date +%s); for d in $s $((s + 1)) $((s + 2)); do
	ln -s "$PWD/target.txt" "ld2/walter-$(date -d @$d +%Y%m%d-%H%M%S)-$$.log"; done
	exec "$WALTER" -c ok.yml -logDir ld2' >out.txt 2>err.txt </dev/null
rc=$?
t logdir-planted-link-refused sh -c '[ "$rc" = 2 ] && has err.txt "-logDir: cannot create ld2/walter-" && has err.txt "File exists"'
t logdir-planted-link-target-untouched sh -c '[ "$(cat target.txt)" = original ] && [ ! -e ran ]'

# a directory that cannot be written, or a path too long: exit 2 first
rm -f ran
w -c ok.yml -logDir /nonexistent/logs
t logdir-missing-dir sh -c '[ "$rc" = 2 ] && has err.txt "walter: -logDir: cannot create /nonexistent/logs/walter-" && [ ! -e ran ]'
long=$(python3 -c 'print("/tmp/" + "d" * 4090)')
w -c ok.yml -logDir "$long"
t logdir-path-too-long sh -c '[ "$rc" = 2 ] && has err.txt "walter: -logDir: the log file'"'"'s path would be" && has err.txt "more than 4095" && [ ! -e ran ]'
w -c ok.yml -logDir /nonexistent/logs -junit ld.xml
t logdir-error-in-report sh -c '[ "$rc" = 2 ] && grep -q "message=\"-logDir: cannot create /nonexistent/logs/walter-" ld.xml'

# -- a NUL in any string that becomes a C string is a located error
nul() { # NAME YAML: exit 2, the located message, nothing ran
	printf '%s\n' "$2" > nul.yml
	rm -f x
	w -c nul.yml
	t "nul-$1" sh -c '[ "$rc" = 2 ] && grep -qE "^walter: nul.yml:[0-9]+:[0-9]+: a string cannot hold a NUL character" err.txt && [ ! -e x ] && ! has err.txt "Start task"'
}
nul command 'pipeline: [{name: a, command: "echo a\0b; touch x"}]'
nul argv 'pipeline: [{name: a, command: [touch, "x\0y"]}]'
nul env-name 'pipeline: [{name: a, command: touch x, env: {"A\0B": v}}]'
nul env-value 'pipeline: [{name: a, command: touch x, env: {A: "v\0w"}}]'
nul task-name 'pipeline: [{name: "a\0b", command: touch x}]'
nul key '{pipeline: [{name: a, "command\0x": touch x, command: "true"}]}'
nul notifier 'pipeline: [{name: a, command: touch x}]
notify: [{type: exec, command: "cat\0rm -rf x"}]'
t nul-located sh -c 'printf "pipeline:\n  - name: a\n    command: \"echo a\\\\0b\"\n" > n2.yml; "$WALTER" -c n2.yml 2>&1 | grep -q "^walter: n2.yml:3:14: a string cannot hold a NUL character"'
t nul-yaml-to-json-still-prints sh -c '"$WALTER" -yaml-to-json nul.yml | grep -q "u0000"'

# -- without /dev/null (a bootstrap chroot) tasks get an empty stdin all
# the same: /dev is an empty tmpfs in a private mount namespace
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "skip no-dev-null: needs root and unshare"
else
	printf 'pipeline:\n  - name: reads\n    command: cat; echo "stdin was empty"\n  - name: args\n    command: [sh, -c, "read x || echo eof"]\n' > nodev.yml
	unshare -m sh -c 'mount -t tmpfs none /dev && exec "$WALTER" -c nodev.yml' </dev/null >out.txt 2>err.txt
	rc=$?
	t no-dev-null-tasks-run sh -c '[ "$rc" = 0 ] && has err.txt "[reads] stdin was empty" && has err.txt "[args] eof" && ! has err.txt "cannot set up stdin"'
fi

# -- wait_for: which states are valid; each mistake said once, precisely
wf() { # NAME WAIT_FOR MESSAGE...: the messages, in order, and nothing else
	_n=$1 _w=$2; shift 2
	printf 'pipeline:\n  - name: a\n    command: "true"\n    wait_for: %s\n' "$_w" > wf.yml
	w -check -c wf.yml
	printf '%s\n' "$@" | sed 's/^/walter: wf.yml:4:15: wait_for: /' > want.txt
	t "wait-for-$_n" sh -c '[ "$rc" = 2 ] && diff want.txt err.txt >/dev/null'
}
states='(use present, ready, absent or unready)'
wf no-state 'host=localhost port=8080' 'a port check needs a state (present, ready, absent or unready)'
wf file-no-state 'file=/x' 'a file check needs a state (present, ready, absent or unready)'
wf bad-state 'host=h port=80 state=open' "state does not support open $states"
wf bad-port 'host=h port=abc state=ready' 'port must be a number from 1 to 65535, not "abc"'
wf port-zero 'host=h port=0 state=ready' 'port must be a number from 1 to 65535, not "0"'
wf two-bad-words 'host=h port=x state=bogus' 'port must be a number from 1 to 65535, not "x"' "state does not support bogus $states"
wf bad-delay 'delay=abc' 'delay must be a number of seconds, not "abc"'
wf bad-timeout 'file=/x state=present timeout=soon' 'timeout must be a duration like 30, 30s or 5m, not "soon"'
wf port-without-host 'port=80 state=ready' 'cannot use port without host'
printf 'pipeline:\n  - name: a\n    command: "true"\n    wait_for: {host: h, port: 70000}\n' > wm.yml
w -check -c wm.yml
t wait-for-mapping-once sh -c '[ "$rc" = 2 ] && [ "$(grep -c wait_for err.txt)" = 1 ] && has err.txt "port must be a number from 1 to 65535, not \"70000\""'

# A big file (about 6 MB: its node tree outgrows the small arena blocks
# and lands in mapped, huge-page ones): every stage, anchors and aliases
# included, comes out as JSON; a syntax error at its very end is located
# there, exit 2, nothing on stdout; -check runs on it.
python3 - <<'PY'
with open("huge.yml", "w") as f:
    f.write("defaults: &d {retry: 2, timeout: 60}\npipeline:\n")
    for i in range(30000):
        f.write('  - name: "stage %d"\n    command: echo "part %d" && make -C dir%d\n'
                '    <<: *d\n    env:\n      PART: "%d"\n      FAST: true\n' % (i, i, i, i))
PY
"$WALTER" -yaml-to-json huge.yml >huge.json 2>err.txt
rc=$?
t big-yaml-to-json sh -c '[ $rc = 0 ] && [ ! -s err.txt ] && python3 -c "
import json
d = json.load(open(\"huge.json\"))
p = d[\"pipeline\"]
assert len(p) == 30000, len(p)
for i in (0, 12345, 29999):
    s = p[i]
    assert s[\"name\"] == \"stage %d\" % i and s[\"command\"] == \"echo \\\"part %d\\\" && make -C dir%d\" % (i, i), s
    assert s[\"<<\"] == {\"retry\": 2, \"timeout\": 60} and s[\"env\"] == {\"PART\": str(i), \"FAST\": True}, s
"'
{ cat huge.yml; printf '  - name: last\n   bad: [\n'; } > huge-bad.yml
"$WALTER" -yaml-to-json huge-bad.yml >out.txt 2>err.txt
rc=$?
t big-yaml-error-located sh -c '[ $rc = 2 ] && [ ! -s out.txt ] && grep -q "^walter: huge-bad.yml:180004:4: " err.txt'
sed '1d; /<<: \*d/d' huge.yml > plain.yml # no top-level anchor holder: -check warns of it
w -check -c plain.yml
t big-yaml-check sh -c '[ "$rc" = 0 ] && [ ! -s err.txt ]'
