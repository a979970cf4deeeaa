# The output path: a child writes random lines (empty, long, NUL, CR,
# invalid UTF-8, no final newline) in writes of random sizes, so lines
# cross the reads in every way; the log must hold exactly those lines,
# the summary exactly the last 10 (cut to 200 bytes), __COMBINED exactly
# the lines with a newline each. Also with INFO hidden (-threshold WARN,
# the tail is still kept) and with a secret to mask (the per-line path).
. "$top/tests/sys/lib.sh"

cat > gen.py <<'PY'
import os, random, sys
seed, total, nul = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
r = random.Random(seed)
alphabet = b"abcdefghij \t\r\xff\xc3\xa9MY_SECRET_VALUE" + (b"\0" if nul else b"")
lines, n = [], 0
while n < total:
    k = r.choice((0, 1, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 63, 64, 65, 100, 199, 200, 201,
                  r.randrange(0, 300), r.randrange(0, 5000), r.randrange(0, 30000)))
    if n + k + 1 > total:  # __COMBINED is cut at 100 KiB: stay below
        break
    line = bytes(r.choice(alphabet) for _ in range(k)) if k < 300 else bytes([97 + k % 26]) * k
    lines.append(line)
    n += k + 1
data = b"\n".join(lines) + (b"\n" if r.random() < 0.5 else b"")
with open("expected.bin", "wb") as f:
    f.write(data)
i = 0
while i < len(data):
    k = r.choice((1, 2, 3, 7, 8, 9, 100, 4095, 4096, 4097, 65535, 65536, 65537, r.randrange(1, 70000)))
    os.write(1, data[i:i + k])
    i += k
sys.exit(1)
PY

cat > check.py <<'PY'
import re, sys
log, comb, secret = sys.argv[1], sys.argv[2], sys.argv[3]
data = open("expected.bin", "rb").read()
lines = data.split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
if secret:
    lines = [l.replace(secret.encode(), b"***") for l in lines]
raw = open(log, "rb").read()
pre = re.compile(rb"^\d\d:\d\d:\d\d  INFO \[emit\] ")
got, tail, in_tail = [], [], False
for l in raw.split(b"\n"):
    if pre.match(l):
        got.append(pre.sub(b"", l))
    if re.match(rb"^\d\d:\d\d:\d\d ERROR Last lines of emit:$", l):
        in_tail = True
    elif in_tail and re.match(rb"^\d\d:\d\d:\d\d ERROR   \| ", l):
        tail.append(re.sub(rb"^\d\d:\d\d:\d\d ERROR   \| ", b"", l))
    else:
        in_tail = False
fails = []
if got:  # INFO shown: Start task first, then the lines, then our own
    if got[0] != b"Start task" or got[1:len(lines) + 1] != lines:
        fails.append("log lines differ (%d logged, %d written)" % (len(got) - 2, len(lines)))
# the summary prints each kept line as a C string: up to a NUL
want_tail = [l[:200].split(b"\0")[0] for l in lines[-10:]]
if tail != want_tail:
    i = next((i for i in range(min(len(tail), len(want_tail))) if tail[i] != want_tail[i]), None)
    fails.append("tail differs (%d lines, want %d; first at %s: %r / %r)" % (
        len(tail), len(want_tail), i, tail[i] if i is not None else None,
        want_tail[i] if i is not None else None))
if comb != "-":
    c = open(comb, "rb").read()
    if c != b"".join(l + b"\n" for l in lines):
        fails.append("__COMBINED differs (%d bytes, want %d)" % (len(c), sum(len(l) + 1 for l in lines)))
print("; ".join(fails) if fails else "ok")
PY

run() { # NAME SEED BYTES NUL COMBINED SECRET [walter flags]
	_n=$1 _seed=$2 _bytes=$3 _nul=$4 _comb=$5 _sec=$6; shift 6
	{
		printf 'pipeline:\n  - name: emit\n    command: python3 gen.py %s %s %s\n' "$_seed" "$_bytes" "$_nul"
		[ "$_comb" = 1 ] && printf '  - name: show\n    command: printf %%s "__COMBINED["emit"]" > comb.txt\n'
	} > out.yml
	rm -f comb.txt
	if [ -n "$_sec" ]; then MY_TOKEN=$_sec w -f -c out.yml "$@"; else w -f -c out.yml "$@"; fi
	[ "$_comb" = 1 ] && _c=comb.txt || _c=-
	_r=$(python3 check.py err.txt "$_c" "$_sec")
	t "$_n" sh -c '[ "$rc" = 1 ] && [ "$_r" = ok ] || { echo "$_r"; false; }'
}

for seed in 1 2 3 4 5 6 7 8; do
	run "lines-seed-$seed" $seed 3000000 1 0 ""
done
for seed in 11 12 13 14; do
	run "combined-seed-$seed" $seed 90000 0 1 ""
done
run threshold-warn-keeps-tail 21 2000000 1 0 "" -threshold WARN
run secret-masked-lines 31 2000000 1 0 MY_SECRET_VALUE
run secret-masked-combined 32 90000 0 1 MY_SECRET_VALUE

# Many short lines and an empty line at every read boundary
python3 -c 'import sys; sys.stdout.write("".join("%d\n" % i for i in range(200000)))' > many.txt
printf 'pipeline:\n  - name: emit\n    command: cat many.txt\n' > many.yml
w -c many.yml
t many-short-lines sh -c '[ "$rc" = 0 ] && [ "$(grep -c "  INFO \[emit\] [0-9]*$" err.txt)" = 200000 ] && grep -q "INFO \[emit\] 199999$" err.txt'

# The last line without a newline, written just before the exit, 300 times:
# walter holds the write ends until the reap, so the reap's read must go on
# to EOF to see that line end (a race: each stage is a chance to lose it).
python3 -c '
print("pipeline:")
for i in range(300):
    print("  - name: s%d" % i)
    print("    command: /usr/bin/printf %s" % ("\x27x\\nlast %d\x27" % i))
' > last.yml
w -c last.yml
t last-line-at-exit-300 sh -c '[ "$rc" = 0 ] && [ "$(grep -c "\] last [0-9]*$" err.txt)" = 300 ]'
