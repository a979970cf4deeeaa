#!/bin/sh
# tests/bench.sh - performance benchmarks (make bench; not part of make test).
# Machines are shared and noisy, so every time is a ratio against a floor
# measured in the same run, and each figure is the median of RUNS runs
# (floor and walter interleaved). One line per benchmark: both times, the
# ratio, the "must" and "aim" targets and whether they are met. Exits 1
# when a "must" target is missed.
# Usage: sh tests/bench.sh   (RUNS=5, WALTER=./walter by default)
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
import os, sys
d = sys.argv[1]
def w(name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)
# 300 sequential stages (D1)
w("seq.yml", "pipeline:\n" + "".join(
    '  - name: s%d\n    command: "true"\n' % i for i in range(300)))
# 40 MB of short lines (about 20 bytes each)
with open(os.path.join(d, "lines.txt"), "w") as f:
    n, i = 0, 0
    while n < 40 << 20:
        s = "line %d of the log\n" % i
        f.write(s)
        n += len(s)
        i += 1
w("log.yml", "pipeline:\n  - name: emit\n    command: cat %s/lines.txt\n" % d)
# 100 MB piped between two D2 tasks
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
"$PY" - "$WALTER" "$tmp" "$RUNS" <<'PY'
import os, statistics, subprocess, sys, time
walter, d, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
null = os.open(os.devnull, os.O_RDWR)
fails = 0

def run(argv, out=None, err=None, cwd=None):
    """Wall time of one command, stdout/stderr to /dev/null unless given."""
    t = time.perf_counter()
    rc = subprocess.call(argv, stdin=null, stdout=out or null, stderr=err or null, cwd=cwd)
    t = time.perf_counter() - t
    if rc != 0:
        sys.exit("bench: %s exited %d" % (" ".join(argv), rc))
    return t

def median_pair(floor, mine):
    """Interleave floor and walter runs; medians of each."""
    a, b = [], []
    for _ in range(runs):
        a.append(floor())
        b.append(mine())
    return statistics.median(a), statistics.median(b)

def verdict(v, must, aim):
    global fails
    if v > must:
        fails += 1
        return "MISSED"
    return "met, aim met" if v <= aim else "met, aim not met"

def ratio_line(name, floor_name, f, w, must, aim):
    r = w / f
    print("%-24s floor %8.3fs  walter %8.3fs  ratio %5.2fx  must <=%.1fx  aim <=%.1fx  %s   (floor: %s)"
          % (name, f, w, r, must, aim, verdict(r, must, aim), floor_name))

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

# 1. 300 sequential stages vs a shell loop running sh -c true 300 times
f, w = median_pair(
    lambda: run(["/bin/sh", "-c", 'i=0; while [ $i -lt 300 ]; do /bin/sh -c true; i=$((i+1)); done']),
    lambda: run([walter, "-c", d + "/seq.yml"]))
ratio_line("seq-300-true", "sh loop of 300 sh -c true", f, w, 1.5, 1.0)

# 2. 40 MB of short lines logged vs the same stream through sed
sed = "cat %s/lines.txt | sed 's/^/HH:MM:SS  INFO [emit] /' >/dev/null" % d
f, w = median_pair(lambda: run(["/bin/sh", "-c", sed]),
                   lambda: run([walter, "-c", d + "/log.yml"]))
ratio_line("log-40MB-lines", "cat | sed prefix", f, w, 1.5, 1.0)

# 3. peak RSS of walter while logging 40 MB and while piping 100 MB
for name, argv in (("rss-log-40MB", [walter, "-c", d + "/log.yml"]),
                   ("rss-pipe-100MB", [walter, "-c", d + "/pipe.yml", "-build"])):
    kb = max(hwm(argv) for _ in range(3))
    print("%-24s VmHWM %6d KiB  must <=4096 KiB  aim <=2048 KiB  %s"
          % (name, kb, verdict(kb, 4096, 2048)))

# 4. start-up: walter -version vs /bin/true, 300 runs each
n = 300
f, w = median_pair(lambda: spawn_loop(["/bin/true"], n),
                   lambda: spawn_loop([walter, "-version"], n))
ratio_line("startup-version", "/bin/true, %d runs" % n, f, w, 3.0, 2.0)

# 5. -yaml-to-json on 20,000 stages vs Python's json round trip (in-process
#    json.load + json.dumps only: interpreter start-up is not counted)
def pyjson():
    t = time.perf_counter()
    with open(d + "/big.json") as fh:
        s = json.dumps(json.load(fh), separators=(",", ":"))
    return time.perf_counter() - t
import json
f, w = median_pair(pyjson, lambda: run([walter, "-yaml-to-json", d + "/big.yml"]))
ratio_line("yaml-to-json-20k", "python json.load+dumps", f, w, 1.0, 0.5)

# 6. 100 parallel sleep 0.3: wall time
w = statistics.median(run([walter, "-c", d + "/par.yml"]) for _ in range(runs))
print("%-24s wall %6.3fs  must <=0.6s  aim <=0.4s  %s" % ("parallel-100-sleep", w, verdict(w, 0.6, 0.4)))

# 7. stripped binary size
s = d + "/walter.stripped"
subprocess.check_call(["strip", "-o", s, walter])
kib = os.path.getsize(s) / 1024
print("%-24s %6.1f KiB stripped (%d KiB as built)  must <=256 KiB  aim <=150 KiB  %s"
      % ("binary-size", kib, os.path.getsize(walter) // 1024, verdict(kib, 256, 150)))

# 8. masking (issue 10): five 1 KB secrets on 20 MB of output that nearly
#    matches them (each line a secret with one byte changed, at a place
#    that moves from line to line) against the same run with no secrets
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
def masked(env):
    t = time.perf_counter()
    rc = subprocess.call([walter, "-c", d + "/mask.yml"], stdin=null, stdout=null, stderr=null, env=env)
    if rc != 0:
        sys.exit("bench: walter -c mask.yml exited %d" % rc)
    return time.perf_counter() - t
plain = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_SECRET_")}
secret_env = dict(plain, **{"BENCH_SECRET_%d" % j: v for j, v in enumerate(secrets)})
# a run is about 40 ms: more of them (interleaved) for a steady median
fl, wl = [], []
for _ in range(max(runs, 21)):
    fl.append(masked(plain))
    wl.append(masked(secret_env))
ratio_line("mask-5x1KB-20MB", "walter, no secrets", statistics.median(fl), statistics.median(wl), 1.5, 1.2)

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("machine: %d cpus, %s, kernel %s; median of %d runs" % (os.cpu_count(), cpu, os.uname().release, runs))
print("bench: %s" % ("all must targets met" if not fails else "%d must target(s) missed" % fails))
sys.exit(1 if fails else 0)
PY
