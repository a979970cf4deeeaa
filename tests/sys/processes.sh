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
		case $( (tr '\0' ' ' < "$d/cmdline") 2>/dev/null) in
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
# alive PID: PID runs (a zombie does not: without a subreaper, under
# qemu-user, an orphan's zombie waits for an init that may be slow)
alive() { [ -e "/proc/$1" ] && [ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)" != Z ]; }
# reap_tag TAG: end whatever still carries TAG (a failed test's leftovers)
reap_tag() { for p in $(procs_with "$1"); do kill -9 "$p" 2>/dev/null; done; }

# ---- a task that reads the terminal fails; the run does not hang ----------
# (script gives walter a terminal: tasks run in background process groups)
printf 'pipeline:\n  - name: ask\n    command: read x </dev/tty; echo got $x\n  - name: after\n    command: echo after\n' > tty.yml
timeout 20 script -eqc "$WALTER -c tty.yml" /dev/null </dev/null >tty.out 2>&1; rc=$?
t tty-read-fails sh -c '[ $rc = 1 ] && grep -aq "\[ask\] Task failed: it tried to read from the terminal (stopped by SIGTTIN)" tty.out &&
	grep -aq "\[after\] Task skipped" tty.out'

# ---- what tasks leave running is stopped and named at the end -----------
# (each leftover says it is up through a file, so it really runs when the
# run ends; the sleep durations tag them)
cat > left.yml <<'Y'
pipeline:
  - name: daemon
    command: |
      (setsid sh -c 'touch d.up; exec sleep 41.1' </dev/null >/dev/null 2>&1 &)
      i=0; while [ ! -e d.up ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
  - name: envless
    command: |
      env -i sh -c 'touch e.up; exec sleep 41.2' </dev/null >/dev/null 2>&1 &
      i=0; while [ ! -e e.up ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
  - name: stubborn
    command: |
      sh -c 'trap "" TERM; touch s.up; while :; do sleep 0.05; done; : 41.3' </dev/null >/dev/null 2>&1 &
      i=0; while [ ! -e s.up ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
Y
w -c left.yml
t leftovers-stopped sh -c '[ $rc = 0 ] && [ -z "$(procs_with "sleep 41.1")$(procs_with "sleep 41.2")$(procs_with "41.3")" ]'
t leftover-setsid-named grep -qE 'WARN \[daemon\] left running: pid [0-9]+ \(sleep 41\.1\): stopping it' err.txt
t leftover-envless-named grep -qE 'WARN \[envless\] left running: pid [0-9]+ \(sleep 41\.2\): stopping it' err.txt
t leftover-stubborn-killed grep -qE 'WARN \[stubborn\] left running: pid [0-9]+ \(sh -c trap' err.txt
t leftovers-before-summary sh -c 'grep -n "left running\|Summary:" err.txt | tail -1 | grep -q Summary'
reap_tag "sleep 41."; reap_tag "41.3"

# ---- keep_running: what such a task leaves survives walter ----------------
cat > keep.yml <<'Y'
pipeline:
  - name: server
    keep_running: true
    command: |
      (setsid sh -c 'echo $$ > k1.pid; exec sleep 42.1' </dev/null >/dev/null 2>&1 &)
      sh -c 'echo $$ > k2.pid; exec sleep 42.2' </dev/null >/dev/null 2>&1 &
      i=0; while { [ ! -s k1.pid ] || [ ! -s k2.pid ]; } && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
  - name: client
    command: kill -0 $(cat k1.pid) && kill -0 $(cat k2.pid) && echo both up
  - name: other
    command: |
      sh -c 'echo $$ > o.pid; exec sleep 42.3' </dev/null >/dev/null 2>&1 &
      i=0; while [ ! -s o.pid ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
Y
w -c keep.yml
t keep-running-usable-later has err.txt "[client] both up"
t keep-running-survives sh -c '[ $rc = 0 ] && alive $(cat k1.pid) && alive $(cat k2.pid) && ! has err.txt "[server] left running"'
t keep-running-others-stopped sh -c '! alive $(cat o.pid) && has err.txt "[other] left running"'
kill "$(cat k1.pid)" "$(cat k2.pid)" 2>/dev/null
w -check -c keep.yml
t keep-running-known-key sh -c '[ $rc = 0 ]'

# ---- SIGKILL of walter: within 2 s nothing it started runs, keep_running
# excepted; the guardian and the notification worker are gone too --------
tag=r11-kill9-$$
cat > "$tag.yml" <<'Y'
notify:
  - type: exec
    command: touch n.up; exec sleep 43.9
pipeline:
  - name: first
    command: "true"
  - name: g
    parallel:
      - name: plain
        command: touch p.up; exec sleep 43.1
      - name: child
        command: (sleep 43.2) & touch c.up; wait
      - name: daemon
        command: |
          (setsid sh -c 'touch d.up; exec sleep 43.3' </dev/null >/dev/null 2>&1 &)
          exec sleep 43.4
      - name: stopped
        command: sh -c 'touch s.up; kill -STOP $$; true 43.5'; sleep 43.6
      - name: kept
        keep_running: true
        command: |
          (setsid sh -c 'echo $$ > kept.pid; exec sleep 43.7' </dev/null >/dev/null 2>&1 &)
          exec sleep 43.8
Y
"$WALTER" -c "$tag.yml" >out.txt 2>err.txt </dev/null &
wp=$!
up=0
for f in n.up p.up c.up d.up s.up kept.pid; do wait_file $f && up=$((up + 1)); done
kill -9 $wp
wait $wp 2>/dev/null
t kill9-all-started [ $up = 6 ]
t kill9-nothing-left sh -c 'for s in 43.1 43.2 43.3 43.4 43.5 43.6 43.9; do gone "$s" || exit 1; done'
t kill9-guardian-and-worker-gone gone "$tag"
t kill9-keep-running-survives sh -c 'alive $(cat kept.pid)'
for s in 43.1 43.2 43.3 43.4 43.5 43.6 43.7 43.8 43.9; do reap_tag "$s"; done
kill "$(cat kept.pid)" 2>/dev/null

# the guardian killed during the run: walter says so at once (its exit is
# reaped like a task's) and the run goes on
tag=r13-guard-$$
printf 'pipeline:\n  - name: a\n    command: touch g.up; sleep 1\n  - name: b\n    command: "true"\n' > "$tag.yml"
rm -f g.up
"$WALTER" -c "$tag.yml" >out.txt 2>err.txt </dev/null &
wp=$!
wait_file g.up
for p in $(procs_with "$tag.yml"); do [ "$p" = "$wp" ] || kill -9 "$p"; done
wait $wp; rc=$?
t guardian-killed-run-goes-on sh -c "[ $rc = 0 ] && has err.txt 'succeeded       b'"
t guardian-killed-is-said has err.txt 'the guardian ended early: a SIGKILL of walter would leave tasks running'

# a normal end: the guardian is told and reaped (nothing of walter left)
tag=r11-clean-$$
printf 'pipeline:\n  - name: a\n    command: "true"\n' > "$tag.yml"
w -c "$tag.yml"
t guardian-gone-after-run gone "$tag"

# ---- a group id is forgotten once its group is empty ---------------------
# In a PID namespace of its own, a task's group outlives the task's
# process (a member is left), the member ends, and the test then makes
# an unrelated process with the same id (through ns_last_pid) lead a
# group of its own. Neither the end of the run nor the guardian, after a
# SIGKILL of walter, may signal it.
if [ "$(id -u)" = 0 ] && unshare -fp --mount-proc true 2>/dev/null; then
	cat > reuse.yml <<'Y'
pipeline:
  - name: lead
    command: echo $$ > g.txt; sleep 300 </dev/null >/dev/null 2>&1 & echo $! > m.txt
  - name: end-member
    command: kill $(cat m.txt); while kill -0 $(cat m.txt) 2>/dev/null; do sleep 0.01; done
  - name: hold
    command: touch ready; while [ ! -e release ]; do sleep 0.01; done
Y
	cat > reuse.sh <<'SH'
# $1: the walter; $2: end (release the run) or kill (SIGKILL walter)
rm -f g.txt m.txt ready release x.pid x.term
"$1" -c reuse.yml >out.txt 2>err.txt </dev/null &
wp=$!
i=0; while [ ! -e ready ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
g=$(cat g.txt)
echo $((g - 1)) > /proc/sys/kernel/ns_last_pid
setsid sh -c 'trap "echo term > x.term; exit" TERM; echo $$ > x.pid; while :; do sleep 0.05; done' </dev/null >/dev/null 2>&1 &
i=0; while [ ! -s x.pid ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
[ "$(cat x.pid)" = "$g" ] || echo "pid $g was taken: no reuse" > x.term
if [ "$2" = kill ]; then kill -9 $wp; else touch release; fi
wait $wp
# the guardian (a fork of walter: its command line) is done when it is gone
guardian() { for d in /proc/[0-9]*; do case $( (tr '\0' ' ' < "$d/cmdline") 2>/dev/null) in *reuse.yml*) echo "${d#/proc/}" ;; esac; done; }
i=0; while [ -n "$(guardian)" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
[ -z "$(guardian)" ] || echo "the guardian is still there"
if kill -0 "$(cat x.pid)" 2>/dev/null && [ ! -e x.term ]; then echo same-id-untouched; fi
kill "$(cat x.pid)" 2>/dev/null
SH
	timeout 60 unshare -fp --mount-proc sh reuse.sh "$WALTER" end > reuse.out 2>&1
	t group-id-forgotten-at-end sh -c 'grep -q same-id-untouched reuse.out && has err.txt "[hold] End task"'
	timeout 60 unshare -fp --mount-proc sh reuse.sh "$WALTER" kill > reuse.out 2>&1
	t group-id-forgotten-by-guardian sh -c 'grep -q same-id-untouched reuse.out'
else
	echo "skip group-id-forgotten-*: needs root and unshare -fp (a PID namespace)"
fi
