# Processes: signals to walter, grandchildren, daemons holding pipes, fds,
# bounded memory while piping 100 MB.
. "$top/tests/sys/lib.sh"

# procs_with TAG: processes whose command line carries TAG (via /proc).
procs_with() {
	for d in /proc/[0-9]*; do
		tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q -- "$1" && echo "${d#/proc/}"
	done
}

for sig in TERM INT HUP; do
	tag="walter-sig-test-$sig-$$"
	cat > s.yml <<Y
pipeline:
  - name: long
    command: |
      (sleep 60; echo $tag) & sh -c 'sleep 61; : $tag' & touch started; wait
  - name: after
    command: touch after-ran
cleanup:
  - name: clean
    command: touch cleanup-ran
Y
	rm -f started after-ran cleanup-ran
	"$WALTER" -c s.yml >out.txt 2>err.txt &
	wpid=$!
	wait_file started 1000
	kill -$sig $wpid
	wait $wpid; r=$?
	case $sig in TERM) n=15 ;; INT) n=2 ;; HUP) n=1 ;; esac
	t signal-$sig-exit [ "$r" = $((128 + n)) ]
	t signal-$sig-cleanup-ran [ -e cleanup-ran ]
	t signal-$sig-rest-skipped [ ! -e after-ran ]
	t signal-$sig-no-process-left [ -z "$(procs_with "$tag")" ]
	t signal-$sig-aborted-logged has err.txt "[long] aborted"
done

# a second signal skips cleanup
cat > s2.yml <<'Y'
pipeline:
  - name: long
    command: trap "" TERM; touch started; sleep 30
cleanup:
  - name: clean
    command: touch cleanup-ran
Y
rm -f started cleanup-ran
"$WALTER" -c s2.yml >out.txt 2>err.txt &
wpid=$!
wait_file started 1000
kill -TERM $wpid
wait_line err.txt "received signal 15"
kill -TERM $wpid
wait $wpid; r=$?
t second-signal-exit [ "$r" = 143 ]
t second-signal-skips-cleanup [ ! -e cleanup-ran ]

# a task that leaves a daemon holding its output pipe does not hang walter
tag="walter-daemon-$$"
printf 'pipeline:\n  - name: d\n    command: |\n      sh -c "sleep 30; : %s" & echo started\n  - name: next\n    command: echo next\n' "$tag" > dm.yml
s=$(date +%s)
w -c dm.yml
e=$(($(date +%s) - s))
t daemon-does-not-hang sh -c "[ $rc = 0 ] && [ $e -lt 10 ] && has err.txt '[next] next'"
t daemon-killed-at-end [ -z "$(procs_with "$tag")" ]

# children see only fds 0-2, even when walter inherited more
printf 'pipeline:\n  - name: fds\n    command: ls /proc/self/fd | sort -n | tr "\\\\n" " "\n' > fd.yml
"$WALTER" -c fd.yml 3>/dev/null 4>extra-fd.txt 2>err.txt
t child-fds-only-0-2 sh -c 'grep "\[fds\]" err.txt | grep -v task | grep -qE "\] 0 1 2 3 $"'

# no zombies: walter reaps every child (checked on a long parallel run)
cat > many.yml <<'Y'
pipeline:
  - name: g
    parallel:
Y
i=0; while [ $i -lt 100 ]; do printf '      - name: p%d\n        command: "true"\n' $i >> many.yml; i=$((i+1)); done
w -c many.yml
t hundred-parallel sh -c "[ $rc = 0 ] && has err.txt 'Summary: 101 tasks: 101 succeeded'"
w -c many.yml -jobs 3
t jobs-limit [ "$rc" = 0 ]

# 100 MB piped between two D2 tasks: works, and walter's memory stays small
cat > big.yml <<'Y'
- name: produce
  command: head -c 104857600 /dev/zero
- name: consume
  command: wc -c > count.txt
Y
# (its spill file goes to a TMPDIR of this test's own: the sampler also
# looks for it among walter's descriptors, unlinked)
mkdir spill
python3 - "$WALTER" "$PWD/spill" <<'PY' > rss.txt 2>/dev/null
# walter's own peak RSS (VmHWM only grows), sampled until it exits
import os, subprocess, sys, time
env = dict(os.environ, TMPDIR=sys.argv[2])
p = subprocess.Popen([sys.argv[1], "-c", "big.yml", "-build"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
hwm, spilled = 0, 0
while p.poll() is None:
    try:
        for line in open("/proc/%d/status" % p.pid):
            if line.startswith("VmHWM:"):
                hwm = max(hwm, int(line.split()[1]))
        for fd in os.listdir("/proc/%d/fd" % p.pid):
            l = os.readlink("/proc/%d/fd/%s" % (p.pid, fd))
            if l.startswith(sys.argv[2] + "/walter-") and l.endswith(" (deleted)"):
                spilled = 1
    except OSError:
        pass
    time.sleep(0.005)
print(p.returncode, hwm, spilled)
PY
t pipe-100mb sh -c '[ "$(cat count.txt)" = 104857600 ]'
# (a sanitizer's shadow memory, make asan, or an emulator, make
# test-cross, makes the RSS bound meaningless)
if [ -n "$WALTER_EMU" ]; then echo "skip pipe-100mb-rss: the RSS would be qemu's"; else
[ -n "$WALTER_SANITIZED" ] ||
	t pipe-100mb-rss sh -c 'set -- $(cat rss.txt); [ "$1" = 0 ] && [ "$2" -gt 0 ] && [ "$2" -lt 4096 ]'
fi
t spill-file-unlinked sh -c 'set -- $(cat rss.txt); [ "$3" = 1 ] && [ -z "$(ls spill)" ]'

# an unwritable TMPDIR when output must spill: a clear task failure
mkdir ro && chmod 555 ro
if [ "$(id -u)" = 0 ]; then tmpd=/proc/version/x; else tmpd=$PWD/ro; fi
printf -- '- name: produce\n  command: head -c 3000000 /dev/zero\n- name: consume\n  command: wc -c\n' > spill.yml
TMPDIR=$tmpd "$WALTER" -c spill.yml >/dev/null 2>err.txt; r=$?
t spill-unwritable sh -c "[ $r = 1 ] && has err.txt '[produce] Task failed: cannot keep output (stdout)'"

# orphans of tasks are adopted (subreaper) and their zombies reaped: the
# check finds the orphan among walter's children, ends it and waits (at
# most 5 s) for walter to reap it
cat > orphan.yml <<'Y'
pipeline:
  - name: orphan
    command: (exec sleep 30 &); true
  - name: check
    command: |
      a=0; p=
      i=0
      while [ -z "$p" ] && [ $i -lt 500 ]; do # not exec'd yet under load: 5 s at most
        for f in /proc/[0-9]*/stat; do set -- $(cat $f 2>/dev/null); [ "$2" = "(sleep)" ] && [ "$4" = $PPID ] && a=$((a+1)) && p=$1; done
        [ -n "$p" ] || sleep 0.01; i=$((i+1))
      done
      [ -n "$p" ] && kill $p
      i=0; while [ -n "$p" ] && [ -e /proc/$p ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
      z=0
      for f in /proc/[0-9]*/stat; do set -- $(cat $f 2>/dev/null); [ "$3" = Z ] && [ "$4" = $PPID ] && z=$((z+1)); done
      echo adopted=$a zombies=$z
Y
w -c orphan.yml
if [ -n "$WALTER_EMU" ]; then
	echo "skip orphans-adopted-and-reaped: qemu-user 7.2 answers PR_SET_CHILD_SUBREAPER with EINVAL"
else
	t orphans-adopted-and-reaped has err.txt "[check] adopted=1 zombies=0"
fi

# as PID 1 (a container entrypoint) walter reaps every orphan
cat > pid1.yml <<'Y'
pipeline:
  - name: orphan
    command: (exec sleep 30 &); echo ppid=$PPID
  - name: check
    command: |
      p= i=0
      # under load the orphan may not have exec'd sleep yet: look again, 5 s at most
      while [ -z "$p" ] && [ $i -lt 500 ]; do
        for f in /proc/[0-9]*/stat; do set -- $(cat $f 2>/dev/null); [ "$2" = "(sleep)" ] && p=$1; done
        [ -n "$p" ] || sleep 0.01; i=$((i+1))
      done
      [ -n "$p" ] && kill $p
      i=0; while [ -n "$p" ] && [ -e /proc/$p ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
      n=0
      for f in /proc/[0-9]*/stat; do set -- $(cat $f 2>/dev/null); [ "$3" = Z ] && n=$((n+1)); done
      echo orphan=${p:+found} zombies=$n
Y
timeout 30 unshare -fp --mount-proc "$WALTER" -c pid1.yml >/dev/null 2>err.txt; r=$?
t pid1-reaps-zombies sh -c '[ $r = 0 ] && has err.txt "[orphan] ppid=1" && has err.txt "[check] orphan=found zombies=0"'

# A signal at any moment, hundreds of times: runs of short parallel
# stages (most of walter's time is spent starting and reaping tasks, so
# signals land inside spawns, between a task's end and its reaping, in
# the middle of a burst) get TERM, INT or HUP after a random delay. Each
# run must die of that signal (as the README says) and leave no process
# that carries the run's tag; one that started a task must also say why
# it stopped and end with its summary (a signal before the first start
# may kill walter at once: nothing ran).
python3 - "$WALTER" > race.txt 2>&1 <<'PY'
import os, random, signal, subprocess, sys, time
walter = sys.argv[1]
runs = 40 if os.environ.get("WALTER_EMU") else 240
tag = "walter-race-%d" % os.getpid()
with open("race.yml", "w") as f:
    f.write("pipeline:\n")
    for i in range(400):
        f.write("  - name: s%d\n    parallel:\n" % i)
        for j, c in enumerate(("sleep 0.002", "/bin/true", "/bin/true x")):
            f.write("      - name: s%d-%d\n        command: %s\n        env:\n          RACE_TAG: %s\n"
                    % (i, j, c, tag))

def tagged():
    left = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/environ" % d, "rb") as e:
                    if ("RACE_TAG=" + tag).encode() in e.read():
                        left.append(d)
            except OSError:
                pass
    return left

# whatever started the suite may have left SIGINT ignored (a background
# job's): walter would inherit that and ignore a signal before its
# handlers are set
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_DFL)
def first_start():
    """Seconds from walter's start to its first task's start (its start-up
    takes longer under a sanitizer or an emulator)."""
    with open("race.err", "wb") as err:
        t = time.perf_counter()
        p = subprocess.Popen([walter, "-c", "race.yml"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        while b"] Start task" not in open("race.err", "rb").read() and p.poll() is None:
            time.sleep(0.0005)
        t = time.perf_counter() - t
        p.kill()
        p.wait()
    return t

t0 = max(first_start() for _ in range(3))
rng = random.Random(1234)
started = 0
bad = {"status": 0, "why": 0, "summary": 0, "left": 0, "hang": 0}
sigs = ((signal.SIGTERM, 15), (signal.SIGINT, 2), (signal.SIGHUP, 1))
for i in range(runs):
    sig, n = sigs[i % 3]
    with open("race.err", "wb") as err:
        p = subprocess.Popen([walter, "-c", "race.yml"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        # one run in six before the first start, the others while tasks run
        time.sleep(rng.uniform(0.0, t0) if i % 6 == 5 else 1.2 * t0 + rng.uniform(0.0, 0.04))
        p.send_signal(sig)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            bad["hang"] += 1
            p.kill()
            p.wait()
            continue
    log = open("race.err", "rb").read().decode("utf-8", "replace")
    started += "] Start task" in log
    if rc != -n:
        bad["status"] += 1
        print("run %d: %s gave %d" % (i, sig.name, rc))
    if "] Start task" in log and "received signal %d" % n not in log:
        bad["why"] += 1
    if "] Start task" in log and "INFO Summary: " not in log:
        bad["summary"] += 1
    for _ in range(200):   # the guardian ends what is left: at most 2 s
        if not tagged():
            break
        time.sleep(0.01)
    else:
        bad["left"] += 1
        print("run %d: left %s" % (i, tagged()))
print("runs %d started %d %s" % (runs, started, " ".join("%s=%d" % kv for kv in sorted(bad.items()))))
PY
for k in status why summary left hang; do
	t signal-race-$k grep -q " $k=0\( \|$\)" race.txt
done
grep "^runs " race.txt
# most runs were stopped with tasks running
t signal-race-ran sh -c 'set -- $(grep "^runs " race.txt); [ "$2" -ge 40 ] && [ "$4" -ge $(($2 * 2 / 3)) ]'


# ---- what a task starts with: no signal blocked, SIGPIPE at its default
# (walter catches it for itself; the exec puts it back), for a program
# walter execs itself and for a shell line: a pipe whose reader is gone
# ends its writer quietly (yes | head -n 1; with SIGPIPE ignored, yes
# reports a broken pipe).
cat > sigs.yml <<'Y'
pipeline:
  - name: direct
    command: grep -E "^Sig(Blk|Ign)" /proc/self/status
  - name: shell
    command: grep -E "^Sig(Blk|Ign)" /proc/self/status; yes | head -n 1
Y
"$WALTER" -c sigs.yml >out.txt 2>err.txt; r=$?
sigmask() { sed -n "s/.*\[$1\] $2:[[:space:]]*\([0-9a-f]*\)\$/\1/p" err.txt; }
t task-signals-exit [ "$r" = 0 ]
for k in direct shell; do
	blk=$(sigmask $k SigBlk) ign=$(sigmask $k SigIgn)
	t task-signals-$k-none-blocked [ "$blk" = 0000000000000000 ]
	t task-signals-$k-sigpipe-default sh -c '[ -n "$ign" ] && [ $((0x$ign & 0x1000)) = 0 ]'
done
t task-signals-yes-head-quiet sh -c 'has err.txt "[shell] y" && ! grep -q "Broken pipe" err.txt'
