#!/bin/sh
# tests/bench.sh - performance benchmarks (make bench; not part of make test).
# Machines are shared and noisy, so every time is a ratio against a floor
# measured in the same run, and each figure is the median of RUNS runs
# (floor and walter interleaved). One line per benchmark: both times, the
# ratio, the "must" and "aim" targets and whether they are met. Peer rows
# (GNU make, just, go-task on walter's workloads) have an aim and no must;
# a peer that is not installed is reported as skipped. Exits 1 when a
# "must" target is missed.
# Usage: sh tests/bench.sh [NAME...]   (RUNS=5, WALTER=./walter by default;
#        NAMEs select rows whose name contains one of them)
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
WALTER=${WALTER:-$top/walter}
RUNS=${RUNS:-5}
[ -x "$WALTER" ] || { echo "bench: $WALTER not built (make walter)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: needs python3" >&2; exit 2; }
# the interpreter itself, not a version-manager shim (a shell script)
PY=$(python3 -c 'import sys; print(sys.executable)')
tmp=$(mktemp -d "${TMPDIR:-/tmp}/walter-bench.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# -- inputs ---------------------------------------------------------------
"$PY" - "$tmp" <<'PY'
import json, os, sys
d = sys.argv[1]
def w(name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)
def seq(name, cmds):
    """A D1 file of sequential stages, one per command."""
    w(name, "pipeline:\n" + "".join(
        "  - name: s%d\n    command: %s\n" % (i, c) for i, c in enumerate(cmds)))
# 300 sequential stages of three kinds, the same commands for the peers
kinds = {
    "true": ["/bin/true stage %d" % i for i in range(300)],
    "shell": ["cd . && test -d ."] * 300,
    "exit": ["sh -c 'exit 0'"] * 300,
}
for k, cmds in kinds.items():
    seq("seq_%s.yml" % k, [json.dumps(c) for c in cmds])
    w("seq_%s.mk" % k, "all:\n" + "".join("\t%s\n" % c for c in cmds))
    w("seq_%s.just" % k, "all:\n" + "".join("    @%s\n" % c for c in cmds))
    w("seq_%s.task.yml" % k, "version: '3'\ntasks:\n  default:\n    silent: true\n    cmds:\n"
      + "".join("      - %s\n" % json.dumps(c) for c in cmds))
# 500 and 5,000 parallel /bin/true (D1, one stage with that many children)
for n in (500, 5000):
    w("par%d.yml" % n, "pipeline:\n  - name: all\n    parallel:\n" + "".join(
        "      - name: p%d\n        command: /bin/true\n" % i for i in range(n)))
# 40 MB of short lines (about 20 bytes each)
with open(os.path.join(d, "lines.txt"), "w") as f:
    n, i = 0, 0
    while n < 40 << 20:
        s = "line %d of the log\n" % i
        f.write(s)
        n += len(s)
        i += 1
w("log.yml", "pipeline:\n  - name: emit\n    command: cat %s/lines.txt\n" % d)
# 100 MB of short lines logged, and 100 MB piped between two D2 tasks
w("log100.yml", "pipeline:\n  - name: emit\n"
                "    command: for i in 1 2 3; do cat %s/lines.txt; done | head -c 104857600\n" % d)
w("pipe.yml", "- name: produce\n  command: head -c 104857600 /dev/zero\n"
              "- name: consume\n  command: wc -c >/dev/null\n")
# 100 parallel sleeps (D1)
w("par.yml", "pipeline:\n  - name: all\n    parallel:\n" + "".join(
    "      - name: p%d\n        command: sleep 0.3\n" % i for i in range(100)))
# 20,000 stages, a realistic mix of fields
st = []
for i in range(20000):
    st.append('  - name: "stage %d"\n'
              '    command: echo "building part %d" && make -C dir%d all\n'
              '    timeout: %d\n'
              '    retry: 2\n'
              '    only_if: test -d dir%d\n'
              '    env:\n      PART: "%d"\n      FAST: true\n' % (i, i, i, 60 + i % 7, i, i))
w("big.yml", "pipeline:\n" + "".join(st))
PY
[ $? = 0 ] || { echo "bench: cannot generate inputs" >&2; exit 2; }
"$WALTER" -yaml-to-json "$tmp/big.yml" > "$tmp/big.json" || { echo "bench: -yaml-to-json failed" >&2; exit 2; }

# -- measurements ---------------------------------------------------------
"$PY" - "$WALTER" "$tmp" "$RUNS" "$@" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time
walter, d, runs, only = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
null = os.open(os.devnull, os.O_RDWR)
fails = 0

def wanted(name):
    return not only or any(o in name for o in only)

def run(argv, cwd=None):
    """Wall time of one command, stdout/stderr to /dev/null."""
    t = time.perf_counter()
    rc = subprocess.call(argv, stdin=null, stdout=null, stderr=null, cwd=cwd)
    t = time.perf_counter() - t
    if rc != 0:
        sys.exit("bench: %s exited %d" % (" ".join(argv), rc))
    return t

def sh(script):
    return lambda: run(["/bin/sh", "-c", script])

def wal(*args):
    return lambda: run([walter] + list(args))

def median_pair(floor, mine, least=1):
    """Interleave floor and walter runs (at least least of each); medians."""
    a, b = [], []
    for _ in range(max(runs, least)):
        a.append(floor())
        b.append(mine())
    return statistics.median(a), statistics.median(b)

def verdict(v, must, aim):
    global fails
    if must is not None and v > must:
        fails += 1
        return "MISSED"
    met = "met" if must is not None else "peer"
    return met + (", aim met" if v <= aim else ", aim not met")

def fmt_target(x, unit):
    return "-" if x is None else "<=%g%s" % (x, unit)

def row(name, floor_name, f, w, must, aim):
    r = w / f
    print("%-22s floor %8.3fs  walter %8.3fs  ratio %5.2fx  must %-7s aim %-7s %-17s (floor: %s)"
          % (name, f, w, r, fmt_target(must, "x"), fmt_target(aim, "x"), verdict(r, must, aim),
             floor_name))

# The 300-stage rows vary by +-5% from run to run on a shared 2-CPU VM
# (where the kernel puts each exec'd program: next to walter or on the
# other CPU), both sides alike: their medians take at least SEQ_RUNS.
SEQ_RUNS = 11

def ratio(name, floor_name, floor, mine, must, aim, least=1):
    if wanted(name):
        f, w = median_pair(floor, mine, least)
        row(name, floor_name, f, w, must, aim)

def value(name, what, v, unit, must, aim):
    print("%-22s %-44s must %-7s aim %-7s %s"
          % (name, what, fmt_target(must, unit), fmt_target(aim, unit), verdict(v, must, aim)))

def hwm(argv):
    """Peak RSS (VmHWM, KiB) of walter itself, sampled from /proc."""
    p = subprocess.Popen(argv, stdin=null, stdout=null, stderr=null)
    peak = 0
    path = "/proc/%d/status" % p.pid
    while p.poll() is None:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.001)
    if p.returncode != 0:
        sys.exit("bench: %s exited %d" % (" ".join(argv), p.returncode))
    return peak

def spawn_loop(argv, n):
    """n runs of argv back to back (posix_spawn + waitpid), in seconds."""
    t = time.perf_counter()
    for _ in range(n):
        pid = os.posix_spawn(argv[0], argv, os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
        os.waitpid(pid, 0)
    return time.perf_counter() - t

def loop(body, n=300):
    """A shell loop running body n times ($i is the count)."""
    return sh('i=0; while [ $i -lt %d ]; do %s; i=$((i+1)); done' % (n, body))

# 1. 300 sequential stages, each against the shell loop that runs the same
#    command through sh -c; then the same files under the peers.
ratio("seq-300-bin-true", "sh loop of sh -c '/bin/true stage N'",
      loop('/bin/sh -c "/bin/true stage $i"'), wal("-c", d + "/seq_true.yml"), 0.8, 0.6, SEQ_RUNS)
ratio("seq-300-shell-line", "sh loop of sh -c 'cd . && test -d .'",
      loop("/bin/sh -c 'cd . && test -d .'"), wal("-c", d + "/seq_shell.yml"), 1.05, 1.0,
      SEQ_RUNS)
make = shutil.which("make")
if make and b"GNU Make" in subprocess.run([make, "--version"], capture_output=True).stdout:
    ratio("seq-300-sh-exit-0", "GNU make -s, the same 300 lines",
          lambda: run([make, "-s", "-f", d + "/seq_exit.mk"]), wal("-c", d + "/seq_exit.yml"),
          1.0, 0.9, SEQ_RUNS)
    for k in ("true", "shell"):
        ratio("make-300-%s" % k, "GNU make -s, the same 300 lines",
              lambda: run([make, "-s", "-f", "%s/seq_%s.mk" % (d, k)]),
              wal("-c", "%s/seq_%s.yml" % (d, k)), None, 1.0, SEQ_RUNS)
else:
    print("%-22s skipped: GNU make not installed (a must row: counted as missed)" % "seq-300-sh-exit-0")
    fails += 1
peers = (("just", lambda k: ["-f", "%s/seq_%s.just" % (d, k), "--working-directory", d]),
         ("task", lambda k: ["-t", "%s/seq_%s.task.yml" % (d, k), "-s"]),
         ("go-task", lambda k: ["-t", "%s/seq_%s.task.yml" % (d, k), "-s"]))
seen = set()
for peer, args in peers:
    exe = shutil.which(peer)
    label = "go-task" if peer == "task" else peer
    if label in seen:
        continue
    if peer == "task" and exe and b"task" not in subprocess.run(
            [exe, "--version"], capture_output=True).stdout.lower():
        exe = None  # taskwarrior, not go-task
    if not exe:
        if peer != "task" and wanted(label):
            print("%-22s skipped: not installed" % (label + "-300-*"))
        continue
    seen.add(label)
    for k in ("true", "shell", "exit"):
        ratio("%s-300-%s" % (label, k), "%s, the same 300 lines" % label,
              (lambda a: lambda: run([exe] + a))(args(k)),
              wal("-c", "%s/seq_%s.yml" % (d, k)), None, 1.0)

# 2. fan-out: 500 parallel /bin/true against sh's & + wait; 5,000 against 500
par = lambda n: sh("i=0; while [ $i -lt %d ]; do /bin/true & i=$((i+1)); done; wait" % n)
ratio("par-500-bin-true", "sh: 500 x /bin/true &, wait", par(500), wal("-c", d + "/par500.yml"),
      1.1, 1.0)
ratio("par-5000-vs-500", "walter, 500 parallel", wal("-c", d + "/par500.yml"),
      wal("-c", d + "/par5000.yml"), 12, 10)

# 3. 40 MB of short lines logged vs the same stream through sed
ratio("log-40MB-lines", "cat | sed prefix",
      sh("cat %s/lines.txt | sed 's/^/HH:MM:SS  INFO [emit] /' >/dev/null" % d),
      wal("-c", d + "/log.yml"), 0.4, 0.25)

# 4. -plan against -check on 20,000 stages
ratio("plan-vs-check-20k", "walter -check", wal("-check", "-c", d + "/big.yml"),
      wal("-plan", "-c", d + "/big.yml"), 1.5, 1.2)

# 5. peak RSS of walter while logging 100 MB and while piping 100 MB
for name, argv in (("rss-log-100MB", [walter, "-c", d + "/log100.yml"]),
                   ("rss-pipe-100MB", [walter, "-c", d + "/pipe.yml", "-build"])):
    if wanted(name):
        kb = max(hwm(argv) for _ in range(3))
        value(name, "VmHWM %d KiB (largest of 3)" % kb, kb, "KiB", 2048, 1024)

# 6. start-up: walter -version vs /bin/true, 300 runs each
ratio("startup-version", "/bin/true, 300 runs", lambda: spawn_loop(["/bin/true"], 300),
      lambda: spawn_loop([walter, "-version"], 300), 3.0, 2.0)

# 7. -yaml-to-json on 20,000 stages vs Python's json round trip (in-process
#    json.load + json.dumps only: interpreter start-up is not counted)
def pyjson():
    t = time.perf_counter()
    with open(d + "/big.json") as fh:
        json.dumps(json.load(fh), separators=(",", ":"))
    return time.perf_counter() - t
ratio("yaml-to-json-20k", "python json.load+dumps", pyjson,
      wal("-yaml-to-json", d + "/big.yml"), 1.0, 0.5)

# 8. 100 parallel sleep 0.3: wall time
if wanted("parallel-100-sleep"):
    w = statistics.median(wal("-c", d + "/par.yml")() for _ in range(runs))
    value("parallel-100-sleep", "wall %.3fs" % w, w, "s", 0.6, 0.4)

# 9. stripped binary size
if wanted("binary-size"):
    s = d + "/walter.stripped"
    subprocess.check_call(["strip", "-o", s, walter])
    kib = os.path.getsize(s) / 1024
    value("binary-size", "%.1f KiB stripped (%d KiB as built)"
          % (kib, os.path.getsize(walter) // 1024), kib, "KiB", 256, 200)

# 10. masking (issue 10): five 1 KB secrets on 20 MB of output that
#    nearly matches them (each line a secret with one byte changed, at a
#    place that moves from line to line) against the same run with no
#    secrets; a run is about 40 ms: 21 of each at least, interleaved
def masked(env):
    t = time.perf_counter()
    rc = subprocess.call([walter, "-c", d + "/mask.yml"], stdin=null, stdout=null, stderr=null, env=env)
    if rc != 0:
        sys.exit("bench: walter -c mask.yml exited %d" % rc)
    return time.perf_counter() - t
if wanted("mask-5x1KB-20MB"):
    import random
    rng = random.Random(10)
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    secrets = ["".join(rng.choice(alnum) for _ in range(1024)) for _ in range(5)]
    with open(d + "/near.txt", "w") as fh:
        size = i = 0
        while size < 20 << 20:
            k = (i * 7919) % 1024
            line = secrets[i % 5][:k] + "#" + secrets[i % 5][k + 1:] + "\n"
            fh.write(line)
            size += len(line)
            i += 1
    with open(d + "/mask.yml", "w") as fh:
        fh.write("pipeline:\n  - name: emit\n    command: cat %s/near.txt\n" % d)
    plain = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_SECRET_")}
    secret_env = dict(plain, **{"BENCH_SECRET_%d" % j: v for j, v in enumerate(secrets)})
    fl, wl = [], []
    for _ in range(max(runs, 21)):
        fl.append(masked(plain))
        wl.append(masked(secret_env))
    row("mask-5x1KB-20MB", "walter, no secrets", statistics.median(fl), statistics.median(wl),
        1.5, 1.2)

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("machine: %d cpus, %s, kernel %s, load %.2f; median of %d runs (300-stage rows: at least %d)"
      % (os.cpu_count(), cpu, os.uname().release, os.getloadavg()[0], runs, SEQ_RUNS))
print("bench: %s" % ("all must targets met" if not fails else "%d must target(s) missed" % fails))
sys.exit(1 if fails else 0)
PY
