# Direct exec: a simple command string runs without sh, with the results
# sh -c gives. Each command of the table runs twice, as written and with
# "shell: true"; exit status, stdout, stderr (captured apart through
# __OUT/__ERR), the task's log lines and the environment must be equal,
# and the process that ran it must be the one the rule says (walter's
# child for a direct exec, sh's otherwise).
. "$top/tests/sys/lib.sh"

mkdir -p tree/sub bin1 bin2
ln -s sub tree/link
printf 'echo from a script without a hash-bang line\nexit 4\n' > tree/noshebang
printf '#!/nonexistent/interpreter\necho never\n' > tree/badinterp
printf '#!/bin/sh\necho "script args: $*"; echo "to stderr" >&2; exit 5\n' > tree/script
printf 'echo not executable\n' > tree/noexec
mkdir tree/adir
chmod +x tree/noshebang tree/badinterp tree/script tree/adir

python3 - "$WALTER" > results.txt 2>&1 <<'PY'
import os, re, subprocess, sys
walter = sys.argv[1]
top = os.getcwd()
# who: "direct" (walter runs it itself), "shell" (sh -c), or "" (not checked)
cases = [
    ("program-with-args", "/bin/echo hello world", "direct"),
    ("single-quotes", "/bin/echo 'a  b' 'c\"d' e'f g'h", "direct"),
    ("double-quotes", "/bin/echo \"a  b\" \"it's\" x\"y z\"", "direct"),
    ("empty-arguments", "/bin/echo '' \"\" x", "direct"),
    ("tabs-and-blanks", "  /bin/echo\t a \t b  ", "direct"),
    ("utf8-and-bytes", "/bin/echo h\u00e9llo \u2603 \x01ctl", "direct"),
    ("found-on-path", "uname -s", "direct"),
    ("exit-status", "sh -c 'exit 7'", "direct"),
    ("killed-by-signal", "sh -c 'kill -TERM $$'", "direct"),
    ("program-error", "ls /nonexistent-walter-dir", "direct"),
    ("stdin-is-empty", "wc -c", "direct"),
    ("environment", "env", "direct"),
    ("script-with-hashbang", "./script one 'two three'", "direct"),
    ("script-without-hashbang", "./noshebang", "direct"),
    ("missing-interpreter", "./badinterp", "direct"),
    ("not-found", "walter-no-such-program --flag", "shell"),
    ("not-found-with-slash", "./walter-no-such-program", "direct"),
    ("not-executable", "./noexec", "direct"),
    ("a-directory", "./adir", "direct"),
    ("a-directory-on-path", "sub", "shell"),
    ("keyword-if", "if true; then /bin/echo yes; fi", "shell"),
    ("builtin-cd", "cd sub", "shell"),
    ("builtin-exit", "exit 3", "shell"),
    ("builtin-echo-escapes", "echo 'a\\tb'", "shell"),
    ("builtin-test", "test -d sub", "shell"),
    ("builtin-bracket", "[ -d sub ]", "shell"),
    ("builtin-pwd", "pwd", "shell"),
    ("builtin-true", "true --help", "shell"),
    ("builtin-dot", ". ./script", "shell"),
    ("builtin-kill", "kill -l 15", "shell"),
    ("builtin-printf", "printf '%s\\n' x", "shell"),
    ("assignment", "FOO=1 env", "shell"),
    ("variable", "/bin/echo $HOME", "shell"),
    ("variable-in-double-quotes", "/bin/echo \"$HOME\"", "shell"),
    ("backslash", "/bin/echo a\\ b", "shell"),
    ("backslash-in-double-quotes", "/bin/echo \"a\\\\b\"", "shell"),
    ("glob", "/bin/echo *", "shell"),
    ("tilde", "/bin/echo ~", "shell"),
    ("comment", "/bin/echo a #b", "shell"),
    ("pipe", "/bin/echo a | tr a b", "shell"),
    ("redirect", "/bin/echo a >&2", "shell"),
    ("and-list", "/bin/echo a && /bin/echo b", "shell"),
    ("subshell", "(/bin/echo a)", "shell"),
    ("braces", "/bin/echo {a,b}", "shell"),
    ("bang", "! /bin/false", "shell"),
    ("unterminated-quote", "/bin/echo 'abc", "shell"),
    ("newline", "/bin/echo a\n/bin/echo b", "shell"),
    ("empty-first-word", "'' x", "shell"),
]

def yq(s):
    """A YAML double-quoted scalar."""
    out = '"'
    for c in s:
        if c in '"\\':
            out += "\\" + c
        elif ord(c) < 32 or c == "\x7f":
            out += "\\x%02x" % ord(c)
        else:
            out += c
    return out + '"'

def run(cmd, shell, extra="", args=(), env=None):
    y = ("pipeline:\n  - name: t\n    command: %s\n    shell: %s\n%s"
         "  - name: show\n"
         "    command: printf %%s \"__OUT[\"t\"]\" > ../out.txt; printf %%s \"__ERR[\"t\"]\" > ../err.txt\n"
         % (yq(cmd), "true" if shell else "false", extra))
    with open("case.yml", "w") as f:
        f.write(y)
    for p in ("out.txt", "err.txt"):
        if os.path.exists(p):
            os.unlink(p)
    p = subprocess.run([walter, "-f", "-c", "../case.yml"] + list(args), cwd="tree",
                       stdin=subprocess.DEVNULL, capture_output=True, env=env)
    log = p.stderr.decode("utf-8", "replace")
    log = re.sub(r"(?m)^\d\d:\d\d:\d\d ", "HH:MM:SS ", log)
    log = re.sub(r"\(\d+(\.\d+)?s\)", "(Ns)", log)
    # the run's id (walter's pid and start time) differs from run to run
    log = re.sub(r"WALTER_TASK_ID=\d+\.\d+\.", "WALTER_TASK_ID=RUN.", log)
    tl = [l for l in log.splitlines() if "[t]" in l]
    out = open("out.txt", "rb").read() if os.path.exists("out.txt") else None
    err = open("err.txt", "rb").read() if os.path.exists("err.txt") else None
    if out is not None:
        out = re.sub(rb"(?m)^WALTER_TASK_ID=\d+\.\d+\.", b"WALTER_TASK_ID=RUN.", out)
    return p.returncode, out, err, tl

def say(ok, name, why=""):
    print(("ok %s" % name) if ok else ("FAIL %s: %s" % (name, why)))

def same(name, cmd, extra="", args=(), env=None, sort=False):
    a = run(cmd, False, extra, args, env)
    b = run(cmd, True, extra, args, env)
    if sort:
        a = (a[0], b"\n".join(sorted(a[1].split(b"\n"))), a[2], sorted(a[3]))
        b = (b[0], b"\n".join(sorted(b[1].split(b"\n"))), b[2], sorted(b[3]))
    for i, what in enumerate(("exit status", "stdout", "stderr", "log")):
        if a[i] != b[i]:
            say(0, name, "%s differs: direct %r, sh %r" % (what, a[i], b[i]))
            return a
    say(1, name)
    return a

# who ran it: the parent of a direct exec is walter; sh's child has sh
who = "python3 -c \"import os; print(open('/proc/' + str(os.getppid()) + '/comm').read().strip())\""
def parent(shell=False, args=(), env=None):
    _, out, _, _ = run(who, shell, args=args, env=env)
    return (out or b"").strip().decode()

for name, cmd, kind in cases:
    if name != "killed-by-signal":
        same(name, cmd, sort=(name == "environment"))

# The one difference, on purpose: sh -c running a program that a signal
# kills reports it ("Terminated") and exits 128+N; run directly, walter
# sees the signal itself. Both log "killed by SIGTERM".
a = run("sh -c 'kill -TERM $$'", False)
b = run("sh -c 'kill -TERM $$'", True)
say(a[0] == b[0] == 1 and a[2] == b"" and b[2] == b"Terminated\n"
    and [l for l in b[3] if "Terminated" not in l] == a[3]
    and any("Task failed: killed by SIGTERM" in l for l in a[3]), "killed-by-signal",
    "direct %r, sh %r" % (a, b))

# the path taken: a direct exec has walter as parent, sh -c has sh (the
# rule itself, case by case, is unit_walter's cmd_words table)
# (under test-cross the walter process is the emulator, which the wrapper
# script execs: its comm is the emulator's)
me = os.path.basename(os.environ.get("WALTER_EMU") or walter)[:15]  # the kernel's comm
say(parent() == me, "direct-exec-is-direct", parent())
say(parent(shell=True) == "sh", "shell-true-uses-sh", parent(shell=True))
say(parent(args=["-shell", "always"]) == "sh", "shell-always-uses-sh", parent(args=["-shell", "always"]))
say(parent(args=["-shell", "auto"]) == me, "shell-auto-is-direct")
# a relative PATH entry first: the shell decides (it depends on the directory)
e = dict(os.environ, PATH="bin:" + os.environ["PATH"])
say(parent(env=e) == "sh", "relative-path-entry-uses-sh", parent(env=e))
e = dict(os.environ, PATH=":" + os.environ["PATH"])
say(parent(env=e) == "sh", "empty-path-entry-uses-sh", parent(env=e))
# directory and environment: PWD as dash exports it, through a symlink too
for d in ("sub", "link", "../tree/link"):
    same("environment-in-directory-" + d.replace("/", "_").replace(".", ""), "env",
         extra="    directory: %s\n" % d, sort=True)
same("environment-with-task-env", "env", extra="    env:\n      FOO: bar\n      PWD: /\n", sort=True)
e = dict(os.environ); e.pop("PWD", None)
same("environment-without-pwd", "env", env=e, sort=True)
e = dict(os.environ, PWD="/nonexistent")
same("environment-with-wrong-pwd", "env", env=e, sort=True)
same("bad-directory", "/bin/echo x", extra="    directory: nonexistent\n")
same("only-if-direct", "/bin/echo ran", extra="    only_if: /bin/false\n")
PY
cat results.txt

# PATH lookups are remembered, but a program put earlier in PATH mid-run
# is found (as sh finds it), and one removed falls back to sh (127).
p="$PWD/bin1:$PWD/bin2:$PATH"
printf '#!/bin/sh\necho two\n' > bin2/prog
chmod +x bin2/prog
cat > cache.yml <<Y
pipeline:
  - name: first
    command: prog
  - name: add
    command: printf '#!/bin/sh\necho one\n' > bin1/prog; chmod +x bin1/prog
  - name: second
    command: prog
  - name: remove
    command: rm bin1/prog bin2/prog
  - name: third
    command: prog
Y
PATH=$p w -f -c cache.yml
t path-cache-first sh -c 'has err.txt "[first] two"'
t path-cache-sees-new-program sh -c 'has err.txt "[second] one"'
t path-cache-removed-program sh -c 'has err.txt "[third] sh: 1: prog: not found" && has err.txt "[third] Task failed: exit status 127"'

# a directory twice in PATH is checked once, and still seen to change
printf '#!/bin/sh\necho two\n' > bin2/prog
chmod +x bin2/prog
PATH="$PWD/bin1:$PWD/bin1:$PWD/bin2:$PATH" w -f -c cache.yml
t path-cache-twice-first sh -c 'has err.txt "[first] two"'
t path-cache-twice-sees-new-program sh -c 'has err.txt "[second] one"'

# The PATH entries of remembered lookups are watched (dnotify), and each
# way a lookup can change mid-run is still seen: a symlink on the way
# put elsewhere, a symlink reached only through another one, an entry
# made later, an ancestor renamed, ".." in an entry, a mount over it.
# Only once a run has stat'd 128 PATH entries (what arming the watches
# costs): warm_up prints stages that do, so that the cases below run
# watched: the first lookups of 10 programs behind 16 empty entries
# (a remembered one's check may be skipped: once a loop turn).
mkdir -p wb
i=0
while [ $i -lt 10 ]; do
	ln -s /bin/true wb/warm$i
	i=$((i + 1))
done
i=0
wpath=
while [ $i -lt 16 ]; do
	mkdir -p w/$i
	wpath="$wpath$PWD/w/$i:"
	i=$((i + 1))
done
wpath="$wpath$PWD/wb"
warm_up() {
	i=0
	while [ $i -lt 10 ]; do
		printf '  - name: warm%d\n    command: warm%d\n    env:\n      PATH: %s\n' $i $i "$wpath"
		i=$((i + 1))
	done
}
# change_yml CHANGE: the warm-up, then prog, CHANGE, prog again
change_yml() {
	echo "pipeline:"
	warm_up
	printf '  - name: first\n    command: prog\n  - name: change\n    command: %s\n' "$1"
	printf '  - name: second\n    command: prog\n'
}
# watch_case NAME ENTRY CHANGE: prog is bin2's ("two") until CHANGE
# makes ENTRY (first in PATH) give full's ("one").
mkdir -p full e1 e3 e4 d anc/bin deep/x deep/e3
printf '#!/bin/sh\necho one\n' > full/prog
printf '#!/bin/sh\necho two\n' > bin2/prog
chmod +x full/prog bin2/prog
ln -s e1 lnk
ln -s ../e1 d/hop
ln -s d/hop chain
ln -s deep/x e2 # e2/.. is deep, as the kernel walks
watch_case() {
	change_yml "$3" > watch.yml
	PATH="$2:$PWD/bin2:$PATH" w -f -c watch.yml
	t path-watch-$1-before sh -c 'has err.txt "[first] two"'
	t path-watch-$1-sees-it sh -c 'has err.txt "[second] one" && [ $rc = 0 ]'
}
watch_case symlink-put-elsewhere "$PWD/lnk" 'ln -sfn full lnk'
watch_case symlink-behind-symlink "$PWD/chain" 'ln -sfn ../full d/hop'
watch_case entry-made-later "$PWD/later/bin" 'mkdir -p later/bin && cp full/prog later/bin/'
watch_case ancestor-renamed "$PWD/anc/bin" 'mv anc anc.old && mkdir anc && cp -R full anc/bin'
watch_case dot-dot-after-symlink "$PWD/e2/../e3" 'cp full/prog deep/e3/'
# with as few fds as let the run go at all, the watches give theirs up
# to the task's pipes (stats from then on) and the change is still seen
mkdir -p e5
change_yml "cp full/prog e5/" > fewfds.yml
nfd=8
while [ $nfd -lt 64 ]; do
	rm -f e5/prog
	(ulimit -n $nfd && PATH="$PWD/e5:$PWD/bin2:$PATH" "$WALTER" -c fewfds.yml >out.txt 2>err.txt </dev/null) && break
	nfd=$((nfd + 1))
done
t path-watch-few-fds-ran [ $nfd -lt 64 ]
t path-watch-few-fds-sees-it sh -c 'has err.txt "[first] two" && has err.txt "[second] one"'

# an entry through a filesystem inotify does not cover (procfs: its
# /proc/self/cwd is this directory) is checked by stat, and still seen
watch_case not-watchable "/proc/self/cwd/e4" 'cp full/prog e4/'
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	change_yml "mount --bind $PWD/full $PWD/e1" > watch.yml
	PATH="$PWD/e1:$PWD/bin2:$PATH" unshare -m --propagation private \
		"$WALTER" -f -c watch.yml >out.txt 2>err.txt </dev/null
	rc=$?
	t path-watch-mount-before sh -c 'has err.txt "[first] two"'
	t path-watch-mount-sees-it sh -c 'has err.txt "[second] one" && [ $rc = 0 ]'
else
	echo "skip path-watch-mount: needs root and unshare -m"
fi

# Watched, a start stats no PATH entry: after the warm-up, 40 starts of
# prog with an empty entry before it stat that entry only at the first
# lookup, files made meanwhile in a directory on no PATH way not
# counting (dnotify names no file: one made in a directory on the way,
# the entry's parent too, drops the watches). Without the warm-up (a
# short run) nothing is watched: lookups are checked by stat. A change
# in the entry drops the watches (their fds closed): lookups are
# stat'd again (and watched again once 128 more stats are made).
# (not under a sanitizer: LeakSanitizer stops walter under ptrace)
if [ -z "$WALTER_EMU$WALTER_SANITIZED" ] && command -v strace >/dev/null; then
	mkdir -p e9
	starts() {
		i=0
		while [ $i -lt "${2:-40}" ]; do
			printf '  - name: p%d\n    command: prog\n' $i
			[ $((i % 10)) = 5 ] && printf '  - name: churn%d\n    command: %s\n' $i "$1"
			i=$((i + 1))
		done
	}
	# straced YML: walter under strace; rc, n (stats of e9), nw (dnotify
	# watches set), n9 (those on e9)
	mkdir -p off
	straced() {
		PATH="$PWD/e9:$PWD/bin2:$PATH" strace -o st.txt \
			-e trace=%stat,%lstat,%fstat,%statfs,openat,open,fcntl,close \
			"$WALTER" -c "$1" >out.txt 2>err.txt </dev/null
		rc=$?
		n=$(grep -c "stat[a-z0-9]*([A-Z_, ]*\"$PWD/e9\"" st.txt)
		nw=$(grep -c "F_NOTIFY" st.txt)
		n9=$(awk -v d="\"$PWD/e9\"" 'index($0, d ",") && /open/ { split($0, r, "= "); fd[r[2] + 0] = 1 }
			/F_NOTIFY/ { split($0, a, "[(,]"); if (fd[a[2] + 0]) c++ }
			/^close\(/ { split($0, a, "[()]"); delete fd[a[2] + 0] } END { print c + 0 }' st.txt)
	}
	{ echo "pipeline:"; warm_up; starts "touch off/junk\$i"; } > many.yml
	straced many.yml
	t path-watch-no-stat-per-start sh -c '[ $rc = 0 ] && [ "$(grep -c "\] two$" err.txt)" = 40 ] && [ "$n" -gt 0 ] && [ "$n" -le 6 ] && [ "$n9" = 1 ]'
	{ echo "pipeline:"; starts "touch off/junk\$i" 10; } > short.yml
	straced short.yml
	t path-watch-short-run-has-none sh -c '[ $rc = 0 ] && [ "$(grep -c "\] two$" err.txt)" = 10 ] && [ "$n" -gt 0 ] && [ "$nw" = 0 ]'
	{ echo "pipeline:"; warm_up; starts "mkdir e9/prog && rmdir e9/prog"; } > drop.yml
	straced drop.yml
	t path-watch-drop-rearms sh -c '[ $rc = 0 ] && [ "$(grep -c "\] two$" err.txt)" = 40 ] && [ "$n" -gt 4 ] && [ "$n9" = 1 ]'
else
	echo "skip path-watch-no-stat-per-start, path-watch-short-run-has-none, path-watch-drop-rearms: strace on a native, unsanitized walter"
fi

# Nothing is allocated and freed per stage: musl's allocator gives a
# lone block's page back, and that unmap flushes the TLB of the CPU the
# vfork child ran on. Each kind of stage alone (a mix hides it: one kind's
# live blocks keep another's page), 45 of them: walter's own mmap, munmap,
# mremap and brk calls between its first start and its last are at most
# 4 (arrays that double as they fill), not 2 per stage. (A short PATH: no
# watches are armed.)
if [ -z "$WALTER_EMU$WALTER_SANITIZED" ] && command -v strace >/dev/null; then
	stages() { # KIND N
		echo "pipeline:"
		i=0
		while [ $i -lt "$2" ]; do
			printf '  - name: %s %d
' "$1" $i
			case $1 in
			direct) printf '    command: /bin/true stage %d
' $i ;;
			quoted) printf '    command: sh -c '"'"'exit 0'"'"'
' ;;
			shell) printf '    command: cd . && test -d .
' ;;
			output) printf '    command: echo line %d; echo err >&2
' $i ;;
			cond) printf '    only_if: test -d .
    command: "true"
    env:
      N: "%d"
' $i ;;
			esac
			i=$((i + 1))
		done
	}
	for k in direct quoted shell output cond; do
		stages $k 45 > m.yml
		PATH=/usr/bin:/bin strace -o st.txt -e trace=mmap,munmap,brk,mremap,vfork,fork,clone \
			"$WALTER" -c m.yml >out.txt 2>err.txt </dev/null
		rc=$?
		# the calls after the first start and before the last one
		m=$(awk '/^(vfork|fork|clone)\(/ { if (s) m += c; s = 1; c = 0; next }
			s && /^(mmap|munmap|brk|mremap)\(/ { c++ } END { print m + 0 }' st.txt)
		t no-alloc-per-stage-$k sh -c '[ $rc = 0 ] && [ "$(grep -c "End task" err.txt)" = 45 ] && [ "$m" -le 4 ]'
		[ "$m" -le 4 ] || echo "   $k: $m calls between the first start and the last"
	done
else
	echo "skip no-alloc-per-stage-*: strace on a native, unsanitized walter"
fi

# A task can start and end within one turn of walter's loop (walter is
# not woken in between; more so with every CPU busy): the lookups of the
# starts after it are checked again. With the CPUs busy, 30 runs of a
# program put first in PATH by the task just before (watched, and
# through procfs: by stat) must each find it.
mkdir -p e6
n=0
busy=
for c in $(seq "$(nproc 2>/dev/null || echo 2)"); do
	sh -c 'while :; do :; done' &
	busy="$busy $!"
done
for entry in "$PWD/e6" "/proc/self/cwd/e6"; do
	change_yml "cp full/prog e6/" > quick.yml
	i=0
	while [ $i -lt 30 ]; do
		rm -f e6/prog
		PATH="$entry:$PWD/bin2:$PATH" "$WALTER" -c quick.yml >out.txt 2>err.txt </dev/null
		has err.txt "[first] two" && has err.txt "[second] one" && n=$((n + 1))
		i=$((i + 1))
	done
done
kill $busy
t path-check-after-quick-task [ "$n" = 60 ]

# -plan shows the command as written, with "sh -c" when it goes to sh
cat > plan.yml <<'Y'
pipeline:
  - name: simple
    command: /bin/echo 'a b'
    timeout: 1.5
  - name: forced
    command: /bin/echo hi
    shell: true
    timeout: 90
  - name: syntax
    command: /bin/echo $HOME
    timeout: 1000000
Y
w -plan -c plan.yml
t plan-simple-as-written sh -c 'grep -q "^    task \"simple\": /bin/echo '"'a b'"'  \[timeout 1.5s\]" out.txt'
t plan-shell-true sh -c 'grep -q "^    task \"forced\": sh -c /bin/echo hi  \[timeout 90s\]" out.txt'
t plan-syntax sh -c 'grep -q "task \"syntax\": sh -c /bin/echo \$HOME  \[timeout 1e+06s\]" out.txt'
w -plan -shell always -c plan.yml
t plan-shell-always sh -c 'grep -q "task \"simple\": sh -c /bin/echo" out.txt'
