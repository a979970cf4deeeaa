# The live status line: only when stderr is a terminal (run under
# script(1) from util-linux), erased before every log line so log lines
# stay whole, at most 10 drawings a second; never on a pipe or a file;
# -progress never turns it off.
. "$top/tests/sys/lib.sh"
if ! command -v script >/dev/null; then
	echo "skip progress: script (util-linux) not installed"
	exit 0
fi

# screen TYPESCRIPT LOGFILE: play the terminal bytes as a terminal shows
# them (CR LF ends a line, CR ESC[K erases the line the cursor is on) and
# print "draws N" (status lines drawn, then erased or left), "same" when
# the lines left on the screen are the log file's bytes exactly, and the
# status lines themselves into status.txt.
screen() {
	python3 - "$1" "$2" <<'PY'
import sys
raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
log = open(sys.argv[2], "rb").read()
lines, cur, draws, status, i = [], b"", 0, [], 0
while i < len(raw):
    if raw.startswith(b"\r\x1b[K", i):
        if cur:
            draws += 1
            status.append(cur)
        cur, i = b"", i + 4
        continue
    c = raw[i:i + 1]
    if c == b"\n":
        lines.append(cur)
        cur = b""
    else:
        cur += c
    i += 1
if cur:
    draws += 1
    status.append(cur)
    print("left on screen:", cur)
open("status.txt", "wb").write(b"\n".join(status) + b"\n")
print("draws", draws)
print("same" if b"\n".join(lines) + b"\n" == log else "differs")
PY
}

cat > p.yml <<'Y'
pipeline:
  - name: slow
    command: for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.05; done
  - name: group
    parallel:
      - name: sleeper
        command: sleep 1.3
      - name: chatty
        command: i=0; while [ $i -lt 300 ]; do echo "chatty line $i"; i=$((i+1)); done; sleep 1.1
cleanup:
  - name: tidy
    command: echo tidy
Y
mkdir -p logs
t0=$(date +%s.%N)
TERM=xterm script -qfec "$WALTER -c p.yml -color never -logDir logs" /dev/null > ts.bin 2>&1
rc=$?
t1=$(date +%s.%N)
screen ts.bin logs/walter-*.log > screen.txt
draws=$(sed -n 's/^draws //p' screen.txt)
t progress-run [ "$rc" = 0 ]
t progress-drawn sh -c '[ "$draws" -ge 2 ] && grep -q "^\[[0-9]*/5 done\]" status.txt'
t progress-names-running sh -c 'grep -qE "^\[[0-9]/5 done\] .*sleeper [0-9]+s" status.txt'
t progress-counts-up sh -c 'grep -q "^\[0/5 done\]" status.txt && grep -qE "^\[[2-4]/5 done\]" status.txt'
t progress-lines-whole has screen.txt same
t progress-erased-at-end sh -c '! grep -q "left on screen" screen.txt'
# at most 10 drawings a second (plus one), however chatty the tasks
t progress-rate sh -c 'python3 -c "import sys; sys.exit(0 if $draws <= 10 * ($t1 - $t0) + 1 else 1)"'
# the log file never holds the status line
t progress-not-in-logfile sh -c '! grep -q "done\]" logs/walter-*.log && ! grep -q "$(printf "\033")" logs/walter-*.log'

# many lines from parallel tasks while it is redrawn: every line whole,
# in the same order as the log file, on each of 5 runs
cat > burst.yml <<'Y'
pipeline:
  - name: burst
    parallel:
      - name: a
        command: i=0; while [ $i -lt 3000 ]; do echo "a $i aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; i=$((i+1)); done
      - name: b
        command: i=0; while [ $i -lt 3000 ]; do echo "b $i bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" >&2; i=$((i+1)); done
      - name: c
        command: sleep 0.3
Y
ok=0
for k in 1 2 3 4 5; do
	rm -rf logs && mkdir logs
	TERM=xterm script -qfec "$WALTER -c burst.yml -color never -logDir logs" /dev/null > burst.bin 2>&1
	screen burst.bin logs/walter-*.log > burst.txt
	if has burst.txt same && [ "$(grep -c ' INFO \[[ab]\] [ab] [0-9]' logs/walter-*.log)" = 6000 ]; then ok=$((ok + 1)); fi
done
t progress-burst-lines-whole [ "$ok" = 5 ]

# a hostile task name: control bytes shown as '?', the line never wider
# than the terminal (a wrapped line could not be erased)
printf 'pipeline:\n  - name: "\\e[31mred\\ttab \\u00e9t\\u00e9 %s"\n    command: sleep 0.6\n' "$(printf 'x%.0s' $(seq 1 300))" > wide.yml
TERM=xterm script -qfec "stty cols 60; $WALTER -c wide.yml -color never -progress auto" /dev/null > wide.bin 2>&1
python3 - > wide.txt <<'PY'
raw = open("wide.bin", "rb").read().replace(b"\r\n", b"\n")
parts = [p.split(b"\n")[-1] for p in raw.split(b"\r\x1b[K")]
st = [p for p in parts if p.startswith(b"[0/1 done]")]
assert st, raw[:300]
for s in st:
    assert b"\x1b" not in s and b"\t" not in s, s
    cols = sum(1 if c < 0x80 else 2 for c in s if c < 0x80 or c >= 0xC0)
    assert cols <= 59, (cols, s)
assert any(b"?[31mred?tab" in s for s in st), st
print("wide ok")
PY
t progress-hostile-name has wide.txt "wide ok"

# never on a pipe or a file, nor with -progress never or TERM=dumb
"$WALTER" -c p.yml 2>pipe.txt | cat
t progress-not-on-file sh -c '! grep -q "$(printf "\033")" pipe.txt && ! grep -q "done\]" pipe.txt'
"$WALTER" -c p.yml 2>&1 | cat > pipe2.txt
t progress-not-on-pipe sh -c '! grep -q "done\]" pipe2.txt'
TERM=xterm script -qfec "$WALTER -c p.yml -color never -progress never" /dev/null > never.bin 2>&1
t progress-never sh -c '! grep -q "done\]" never.bin && grep -q "Summary" never.bin'
TERM=dumb script -qfec "$WALTER -c p.yml -color never" /dev/null > dumb.bin 2>&1
t progress-dumb-terminal sh -c '! grep -q "done\]" dumb.bin && grep -q "Summary" dumb.bin'
w -progress sometimes -c p.yml
t progress-bad-value sh -c '[ "$rc" = 2 ] && has err.txt "invalid -progress sometimes (auto, never)"'

# a signal while the line is shown: the "received signal" line and the
# cleanup's lines are whole, the line is gone at the end (walter dies of
# the signal: exit 130)
printf 'pipeline:\n  - name: long\n    command: touch started; sleep 30\ncleanup:\n  - name: tidy\n    command: echo tidied\n' > sig.yml
rm -rf logs started && mkdir logs
TERM=xterm script -qfec "sh -c 'echo \$\$ > walter.pid; exec $WALTER -c sig.yml -color never -logDir logs'" /dev/null > sig.bin 2>&1 &
spid=$!
wait_file started # (the line is drawn with the Start task line)
kill -INT "$(cat walter.pid)"
wait "$spid"; src=$?
screen sig.bin logs/walter-*.log > sig.txt
t progress-signal sh -c '[ "$src" = 130 ] && has sig.txt same && ! grep -q "left on screen" sig.txt &&
  grep -q "received signal 2" logs/walter-*.log && grep -q "\[tidy\] tidied" logs/walter-*.log'
