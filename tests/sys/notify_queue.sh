# Notifications never hurt the run: the exec notifier's command keeps
# $VAR for the shell (no secret on a command line); the exec notifier is
# event-driven (every event arrives, the run ends right after its last
# task); the queue to a slow receiver is bounded (oldest task messages
# dropped, the summary never, one line saying how many; walter stays
# small).
. "$top/tests/sys/lib.sh"
. "$top/tests/sys/notify.lib"

# ---- no secret on the exec command line ------------------------------------
# The command waits for a file the test makes once it has looked at every
# process's command line (bounded by the notifier's timeout; no other $
# in it, which walter 2.1.0 would have substituted too).
cat > sec.yml <<'Y'
notify:
  - type: exec
    command: echo "$R11_API_TOKEN" > val.txt; while [ ! -e go ]; do sleep 0.01; done
pipeline:
  - name: a
    command: "true"
Y
secret=walter-r11-secret-$$
R11_API_TOKEN=$secret "$WALTER" -c sec.yml >out.txt 2>err.txt </dev/null &
wp=$!
wait_file val.txt
seen=0
for d in /proc/[0-9]*; do
	tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q -- "$secret" && seen=$((seen + 1))
done
: > go
wait $wp; rc=$?
eq exec-secret-not-on-cmdline "$seen" 0
eq exec-secret-from-env "$rc $(cat val.txt)" "0 $secret"
c exec-secret-not-logged '! grep -q "$secret" err.txt'

# ---- the exec notifier is event-driven: 500 events to "cat >> file" all
# arrive, and the run ends soon after its last task (before: one event
# per 50 ms poll at best, and what was left after the longest timeout
# plus 2 s was dropped). The gap is the run's wall time minus the
# duration its summary gives (which ends with the tasks); it is less than
# a shell loop takes for the same 500 deliveries one after another,
# measured here (walter delivers while its tasks run; 50 ms per event
# would be 25 s). ----------------------------------------------------------
python3 - > ex.yml <<'PY'
print("notify:\n  - type: exec\n    command: cat >> events.jsonl\npipeline:")
for i in range(500):
    print("  - name: t%d\n    command: \"true\"" % i)
PY
python3 - "$WALTER" > gap.txt <<'PY'
import re, subprocess, sys, time
t = time.monotonic()
rc = subprocess.call([sys.argv[1], "-c", "ex.yml"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open("err.txt", "w"))
wall = time.monotonic() - t
m = re.findall(r"Summary: .*\(([0-9.]+)s\)$", open("err.txt").read(), re.M)
open("ev1.json", "w").write(open("events.jsonl").readline())
loop = "i=0; while [ $i -lt 500 ]; do sh -c 'cat >> floor.jsonl' < ev1.json; i=$((i+1)); done"
t = time.monotonic()
subprocess.call(["sh", "-c", loop])
floor = time.monotonic() - t
print(rc, "%.2f" % (wall - float(m[-1])) if m else "none", "%.2f" % floor)
PY
read -r exrc gap floor < gap.txt
eq exec-500-events-all-arrive "$exrc $(count events.jsonl)" "0 500"
eq exec-500-events-floor-all-written "$(count floor.jsonl)" 500
c exec-500-events-run-ends-soon 'echo "$gap $floor" | awk "{ exit !(\$1 < \$2) }"'
c exec-500-events-no-error '! grep -q "ERROR" err.txt'

# ---- a slow receiver: the queue is bounded ----------------------------------
# 1,500 tasks with report_full_output and 60 KB of output each, to a
# webhook that takes 10 ms per request (90 MB of events, far more than it
# takes): walter's memory stays bounded (it grew with the queue before),
# the oldest task messages are dropped, one line says how many, the
# newest task's message and the summary arrive.
start slow --delay 0.01 --body-max 400
python3 - "$port" > slow.yml <<'PY'
import sys
print("notify:\n  - type: webhook\n    url: http://127.0.0.1:%s/t\n  - type: webhook\n    url: http://127.0.0.1:%s/s\n    summary: true" % (sys.argv[1], sys.argv[1]))
print("build:\n  tasks:\n    - name: all\n      parallel:")
for i in range(1500):
    print("        - name: t%d\n          report_full_output: true\n          command: seq 100000 110000 | head -c 60000" % i)
PY
python3 - "$WALTER" > slow.txt 2>/dev/null <<'PY'
# walter's peak RSS (VmHWM), sampled until it exits
import subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "-c", "slow.yml", "-jobs", "4"], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=open("err.txt", "w"))
hwm = 0
while p.poll() is None:
    try:
        for line in open("/proc/%d/status" % p.pid):
            if line.startswith("VmHWM:"):
                hwm = max(hwm, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.005)
print(p.returncode, hwm)
PY
read -r slowrc slowkb < slow.txt
eq queue-run-ok "$slowrc" 0
if [ -n "$WALTER_SANITIZED$WALTER_EMU" ]; then echo "skip queue-rss-bounded: the RSS would be the sanitizer's or the emulator's"; else
	c queue-rss-bounded '[ "$slowkb" -gt 0 ] && [ "$slowkb" -lt 16384 ]'
fi
c queue-drops-said-once '[ "$(grep -c "task messages dropped" err.txt)" = 1 ] &&
	grep -qE "ERROR notifications: [0-9]+ task messages dropped, the oldest first" err.txt'
c queue-newest-arrives "grep -qF '\\\"name\\\":\\\"t1499\\\"' slow.log"
eq queue-summary-last "$(q slow.log "$(count slow.log)" 'r["path"]')" "/s"
