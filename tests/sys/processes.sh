# No process outlives walter unless asked: what tasks leave behind is
# stopped and named at the end of the run (process groups and orphans,
# daemons that left the session too), keep_running exempts a task's
# leftovers, a SIGKILL of walter leaves nothing running (the guardian),
# a task that reads the terminal fails instead of hanging the run, and a
# group id is forgotten once its group is empty.
. "$top/tests/sys/lib.sh"

# procs_with TAG: pids of live processes whose command line carries TAG
procs_with() {
	for d in /proc/[0-9]*; do
		case $(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) in
		*"$1"*) [ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "$d/status" 2>/dev/null)" = Z ] || echo "${d#/proc/}" ;;
		esac
	done
}
# gone TAG [TRIES]: no live process carries TAG, waiting (10 ms steps) at
# most TRIES times (default 200: 2 s)
gone() {
	_i=0
	while [ -n "$(procs_with "$1")" ] && [ $_i -lt "${2:-200}" ]; do sleep 0.01; _i=$((_i + 1)); done
	[ -z "$(procs_with "$1")" ]
}
# reap_tag TAG: end whatever still carries TAG (a failed test's leftovers)
reap_tag() { for p in $(procs_with "$1"); do kill -9 "$p" 2>/dev/null; done; }

# ---- a task that reads the terminal fails; the run does not hang ----------
# (script gives walter a terminal: tasks run in background process groups)
printf 'pipeline:\n  - name: ask\n    command: read x </dev/tty; echo got $x\n  - name: after\n    command: echo after\n' > tty.yml
timeout 20 script -eqc "$WALTER -c tty.yml" /dev/null </dev/null >tty.out 2>&1; rc=$?
t tty-read-fails sh -c '[ $rc = 1 ] && grep -aq "\[ask\] Task failed: it tried to read from the terminal (stopped by SIGTTIN)" tty.out &&
	grep -aq "\[after\] Task skipped" tty.out'
