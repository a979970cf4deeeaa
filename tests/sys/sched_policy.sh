# walter's scheduling policy: SCHED_BATCH (3 in /proc/PID/stat's 41st
# field) while it runs a lone task, the normal one (0) while it starts
# tasks beside others; every task runs with the normal policy, whatever
# walter's, and so does the notification worker's exec notifier. Linux
# only (/proc); where the policy is refused walter keeps 0 and the
# "walter" rows are skipped.
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
t sched-policy-tasks-normal sh -c '[ "$(grep -c "task=0 " err.txt)" = 4 ] && ! grep -q "task=[1-9]" err.txt'
if grep -q "\[alone\] task=0 walter=3" err.txt; then
	t sched-policy-walter-batch-alone sh -c 'has err.txt "[alone again] task=0 walter=3"'
	t sched-policy-walter-normal-beside-others sh -c 'has err.txt "[right] task=0 walter=0"'
else
	echo "skip sched-policy-walter: SCHED_BATCH refused here"
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
