# Nothing lost: the last line of a task that does not end in a newline
# reaches every place output goes (the log, -logDir, the summary, the
# reports' last lines, captures, the next task's stdin), run after run;
# texts that say what happened (a second signal in cleanup, retries).
. "$top/tests/sys/lib.sh"

# The issue's pipeline, in the 2.x and 1.x forms, and two that keep the
# line for later: __COMBINED/__ERR (1.x) and stdin (2.x). 4 x 50 runs.
cat > d2.yml <<'Y'
build:
  tasks:
    - name: first
      command: echo hello
    - name: second
      command: "printf 'fatal - disk full' >&2; exit 1"
Y
cat > d1.yml <<'Y'
pipeline:
  - name: first
    command: echo hello
  - name: second
    command: "printf 'fatal - disk full' >&2; exit 1"
Y
cat > d1cap.yml <<'Y'
pipeline:
  - name: second
    command: "printf 'kept - no newline' >&2"
  - name: third
    command: echo "err=__ERR["second"] combined=__COMBINED["second"]"
Y
cat > d2in.yml <<'Y'
build:
  tasks:
    - name: second
      command: "printf 'piped - no newline'"
    - name: third
      command: "sed 's/^/stdin=/'"
Y
lost=0 runs=0
mkdir -p logs
i=0
while [ $i -lt 200 ]; do
	case $((i % 4)) in
	0) f=d2.yml want='[second] fatal - disk full' ;;
	1) f=d1.yml want='[second] fatal - disk full' ;;
	2) f=d1cap.yml want='[third] err=kept - no newline combined=kept - no newline' ;;
	3) f=d2in.yml want='[third] stdin=piped - no newline' ;;
	esac
	rm -f logs/* r.json
	junit=/dev/null
	[ $((i % 10)) = 0 ] && junit=r$i.xml # checked against the schema by run.sh
	"$WALTER" -c $f -logDir logs -json r.json -junit $junit >/dev/null 2>err.txt </dev/null
	runs=$((runs + 1))
	ok=1
	has err.txt "$want" || ok=0
	grep -qF -- "$want" logs/* 2>/dev/null || ok=0
	case $f in
	d2.yml | d1.yml)
		has err.txt "  | fatal - disk full" || ok=0
		grep -qF '"last_lines":["fatal - disk full"]' r.json || ok=0
		[ $junit = /dev/null ] || grep -qF '>fatal - disk full' $junit || ok=0 ;;
	*)
		has err.txt "${want%%=*}" || ok=0 ;;
	esac
	[ $ok = 1 ] || { lost=$((lost + 1)); cp err.txt "lost-$i.txt"; }
	i=$((i + 1))
done
echo "last line: $lost lost in $runs runs"
t last-line-200-runs-none-lost [ "$lost" = 0 ] && [ "$runs" = 200 ]

# a grandchild holds the pipe open: the line is logged, walter does not wait
tag="walter-lastline-$$"
printf 'pipeline:\n  - name: g\n    command: |\n      sh -c "sleep 30; : %s" & printf "partial, the daemon runs on"\n' "$tag" > g.yml
s=$(date +%s)
w -c g.yml
e=$(($(date +%s) - s))
t last-line-with-grandchild sh -c "[ $rc = 0 ] && [ $e -lt 10 ] && has err.txt '[g] partial, the daemon runs on'"

# retries say how the attempt ended
cat > retry.yml <<'Y'
pipeline:
  - name: seven
    command: exit 7
    retry: 1
  - name: killed
    command: kill -KILL $$
    retry: 1
Y
w -f -c retry.yml
t retry-text-exit-status has err.txt "[seven] attempt 1 failed (exit status 7), retrying in 0s"
t retry-text-signal sh -c 'has err.txt "[killed] attempt 1 failed (killed by SIGKILL), retrying in 0s" && has err.txt "[killed] Task failed: killed by SIGKILL"'

# a second signal during cleanup aborts the cleanup task: the log says so
cat > c2.yml <<'Y'
pipeline:
  - name: long
    command: touch started; sleep 30
cleanup:
  - name: clean
    command: touch clean-started; sleep 30
Y
rm -f started clean-started
"$WALTER" -c c2.yml -json c2.json >out.txt 2>err.txt &
wpid=$!
wait_file started 1000
kill -TERM $wpid
wait_file clean-started 1000
kill -INT $wpid
wait $wpid; r=$?
t cleanup-second-signal-exit [ "$r" = 130 ]
t cleanup-second-signal-says-aborted sh -c 'has err.txt "[clean] aborted" && has err.txt "Pipeline cleanup aborted" && ! has err.txt "cleanup succeeded"'
t cleanup-second-signal-report sh -c 'python3 -c "
import json; r = json.load(open(\"c2.json\")); t = {x[\"name\"]: x for x in r[\"tasks\"]}
assert r[\"status\"] == \"aborted\" and r[\"reason\"] == \"received SIGINT\", r
assert t[\"clean\"][\"status\"] == \"aborted\" and t[\"clean\"][\"reason\"] == \"received SIGINT\", t
assert t[\"long\"][\"status\"] == \"aborted\" and t[\"long\"][\"reason\"] == \"received SIGTERM\", t"'
