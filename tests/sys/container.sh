# The image of examples/Containerfile, as a chroot: its final stage is read
# and laid out (walter, the pipeline, the static helper examples/tool.c,
# and /dev/null, which a container runtime provides), then its ENTRYPOINT
# runs there as PID 1 of a new PID namespace with its WORKDIR and ENV.
# Needs root (chroot, mknod) and a static walter.
. "$top/tests/sys/lib.sh"

bin=${WALTER_BIN:-$WALTER}
if [ "$(id -u)" != 0 ]; then
	echo "skip all: needs root for chroot and mknod (CI runs as root)"
	exit 0
fi
if ! file -L "$bin" | grep -q 'statically linked'; then
	echo "skip all: $bin is not statically linked (make with musl-tools installed)"
	exit 0
fi

# the helper, static
if command -v musl-gcc >/dev/null; then hcc=musl-gcc; else hcc=${TCC:-cc}; fi
$hcc -static -Os -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Werror \
	-o tool "$top/examples/tool.c" 2>cc.err
t helper-builds-static sh -c 'file tool | grep -q "statically linked"' || cat cc.err

# The final stage of the Containerfile, laid out in root/: COPY, WORKDIR,
# ENV, ARG and ENTRYPOINT are understood, anything else is a failure (so
# the example cannot grow what this test does not check). Writes the
# entrypoint (one word a line), the working directory and the environment.
python3 - "$top" "$bin" "$PWD/tool" > layout.txt 2>&1 <<'PY'
import json, os, re, shutil, sys
top, walter, tool = sys.argv[1:4]
lines, cur = [], ""
for l in open(os.path.join(top, "examples/Containerfile")):
    l = l.rstrip("\n")
    if not l.strip() or l.lstrip().startswith("#"):
        continue
    cur += l[:-1] + " " if l.endswith("\\") else l
    if not l.endswith("\\"):
        lines.append(cur.strip()); cur = ""
last = max(i for i, l in enumerate(lines) if l.upper().startswith("FROM "))
assert lines[last].split()[1] == "scratch", lines[last]
args, env, wd, entry = {}, {}, "/", None
os.makedirs("root/dev")
for l in lines[last + 1:]:
    op, rest = l.split(None, 1)
    op = op.upper()
    rest = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""), rest) \
        if op != "ENTRYPOINT" else rest
    if op == "ARG":
        k, _, v = rest.partition("="); args[k] = v
    elif op == "COPY":
        w = rest.split()
        if w[0].startswith("--from="):
            assert w[1:] == ["/tool", "/bin/tool"], w; src = tool; dst = w[2]
        else:
            assert len(w) == 2, w
            src = walter if w[0] == "walter" else os.path.join(top, w[0]); dst = w[1]
        d = "root" + dst
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy(src, d)
    elif op == "WORKDIR":
        wd = rest; os.makedirs("root" + wd, exist_ok=True)
    elif op == "ENV":
        k, _, v = rest.partition("="); env[k] = v
    elif op == "ENTRYPOINT":
        entry = json.loads(rest)
    else:
        raise SystemExit("Containerfile: %s is not understood by tests/sys/container.sh" % op)
assert entry and entry[0] == "/walter", entry
open("entry.txt", "w").write("\n".join(entry) + "\n")
open("wd.txt", "w").write(wd + "\n")
open("env.txt", "w").write("".join("%s=%s\n" % kv for kv in env.items()))
print("layout ok")
PY
t containerfile-laid-out has layout.txt "layout ok" || cat layout.txt
mknod root/dev/null c 1 3 && chmod 666 root/dev/null
wd=$(cat wd.txt)
# Under make test-cross the image also holds the (static) emulator.
emu=
if [ -n "$WALTER_EMU" ]; then
	cp "$WALTER_EMU" root/qemu
	emu=/qemu
fi

pidns=-fp
# image ARGS...: the entrypoint's words with ARGS appended (docker run
# IMAGE ARGS), as PID 1 in the chroot, with only the image's environment;
# status in $rc, the log in err.txt.
image() {
	set -- $(cat entry.txt) "$@"
	# shellcheck disable=SC2046
	env -i PATH=/usr/local/bin:/usr/bin:/bin $(cat env.txt) \
		timeout 60 unshare $pidns -R root -w "$wd" $emu "$@" >out.txt 2>err.txt </dev/null
	rc=$?
	return $rc
}
# pid_of WORDS: the pid of the process whose command line starts with WORDS.
pid_of() {
	for d in /proc/[0-9]*; do
		case $({ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) in
		"$1 "*) echo "${d#/proc/}"; return ;;
		esac
	done
}

image
t image-runs sh -c '[ $rc = 0 ] && has err.txt "Summary: 5 tasks: 5 succeeded, 0 failed"' || tail -5 err.txt
t image-argv-commands sh -c 'has err.txt "[unit] unit tests passed" && has err.txt "[tidy] tidied up"'
t image-stdin-piped has err.txt "[tag] release-1.2.3"

# a string command needs sh, which the image lacks: a clear task failure
cat > root/sh.yml <<'Y'
- name: greet
  command: echo hello
Y
image -c /sh.yml
t image-no-shell sh -c '[ $rc = 1 ] && has err.txt "[greet] Task failed: cannot run /bin/sh: No such file or directory"'

# 3 MB from one task to the next spills to $TMPDIR: the image's ENV makes
# that work without /tmp, and without it the failure is clear
cat > root/big.yml <<'Y'
- name: produce
  command: [/bin/tool, bytes, "3000000"]
- name: consume
  command: [/bin/tool, count]
Y
image -c /big.yml
t image-spill-tmpdir sh -c '[ $rc = 0 ] && has err.txt "[consume] 3000000"' || tail -3 err.txt
: > env.txt
image -c /big.yml
t image-spill-no-tmp sh -c '[ $rc = 1 ] && has err.txt "[produce] Task failed: cannot keep output"'

# PID 1 and signals: docker stop sends SIGTERM to PID 1; the running task
# is aborted, cleanup runs, walter exits 143 (a PID 1 cannot die of a
# signal it raises itself, so it does not try: under qemu-user the
# emulator would kill itself with the signal and wait, forever as PID 1).
cat > root/sig.yml <<'Y'
pipeline:
  - name: sleeper
    command: [/bin/tool, sleep, "30", /started]
  - name: after
    command: [/bin/tool, echo, after ran]
cleanup:
  - name: tidy
    command: [/bin/tool, echo, cleanup ran]
Y
for sig in TERM INT; do
	rm -f root/started
	cp root/sig.yml root/sig$sig.yml
	image -c /sig$sig.yml &
	up=$!
	wait_file root/started 3000
	pid1=$(pid_of "${emu:+$emu }$(tr '\n' ' ' <entry.txt)-c /sig$sig.yml")
	t image-sig$sig-pid1-found [ -n "$pid1" ]
	[ -n "$pid1" ] && kill -$sig "$pid1"
	wait $up
	r=$?
	case $sig in TERM) n=15 ;; INT) n=2 ;; esac
	t image-sig$sig-exit [ "$r" = $((128 + n)) ]
	t image-sig$sig-cleanup sh -c 'has err.txt "[sleeper] aborted" && has err.txt "[tidy] cleanup ran" && ! has err.txt "after ran"'
done

pidns=-fp

# -timeout (in the entrypoint for the whole run; here a short one): 124
image -c /sig.yml -timeout 1s
t image-timeout sh -c '[ $rc = 124 ] && has err.txt "[tidy] cleanup ran"'
