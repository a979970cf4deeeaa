# walter leaves the scheduling policy alone (/proc/PID/stat's 41st
# field: 0 normal, 3 SCHED_BATCH): it runs with the one it was given, and
# every task, in a sequence or side by side, and the notification
# worker's exec notifier inherit it, as under make or sh. An earlier
# walter ran itself as SCHED_BATCH with a lone task and set the normal
# policy back in every child: these tests keep a policy from being set
# or reset again unnoticed. Linux only (/proc); the batch run needs
# chrt and is skipped without it.
. "$top/tests/sys/lib.sh"

if [ ! -r /proc/self/stat ]; then
	echo "skip sched-policy: no /proc"
	exit 0
fi
# pol PID: the policy field (after the ")" that ends the command name)
cat > pol.sh <<'S'
pol() { sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f39; }
echo "task=$(pol $$) walter=$(pol $PPID)"
S
cat > seq.yml <<'Y'
pipeline:
  - name: alone
    command: sh pol.sh
  - name: pair
    parallel:
      - name: left
        command: sh pol.sh; sleep 0.3
      - name: right
        command: sleep 0.1; sh pol.sh
  - name: alone again
    command: sh pol.sh
Y
w -c seq.yml
t sched-policy-ran [ "$rc" = 0 ]
t sched-policy-tasks-normal sh -c '[ "$(grep -c "task=0 walter=0" err.txt)" = 4 ] && ! grep -q "=[1-9]" err.txt'
# started as SCHED_BATCH (a user's chrt -b, a CI runner's choice):
# walter keeps it and its tasks inherit it, side by side too
if command -v chrt >/dev/null && chrt -b 0 true 2>/dev/null; then
	chrt -b 0 "$WALTER" -c seq.yml >out.txt 2>err.txt </dev/null
	rc=$?
	t sched-policy-batch-ran [ "$rc" = 0 ]
	t sched-policy-batch-inherited sh -c '[ "$(grep -c "task=3 walter=3" err.txt)" = 4 ] && ! grep -q "=0" err.txt'
else
	echo "skip sched-policy-batch: no chrt, or SCHED_BATCH refused here"
fi
# the exec notifier, started by the notification worker
cat > notify.yml <<'Y'
messenger:
  type: exec
  command: sh pol.sh > notified.txt
pipeline:
  - name: one
    command: "true"
Y
w -c notify.yml
t sched-policy-notifier-normal sh -c 'wait_file notified.txt && sleep 0.2 && grep -q "^task=0 walter=0" notified.txt'
