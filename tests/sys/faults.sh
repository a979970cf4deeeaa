# Faults around walter: closed or full stderr, fd exhaustion, hostile files.
. "$top/tests/sys/lib.sh"

printf 'pipeline:\n  - name: a\n    command: echo hi; echo more\n  - name: b\n    command: touch b-ran\n' > p.yml

# a closed stderr (EBADF), a full one (ENOSPC) and a broken pipe (EPIPE)
"$WALTER" -c p.yml 2>&-; r=$?
t stderr-closed sh -c "[ $r = 0 ] && [ -e b-ran ]"
rm -f b-ran
"$WALTER" -c p.yml 2>/dev/full; r=$?
t stderr-full sh -c "[ $r = 0 ] && [ -e b-ran ]"
rm -f b-ran
r=$( { "$WALTER" -c p.yml 2>&1 >/dev/null; echo $? >rc.txt; } | head -c 1 >/dev/null; cat rc.txt)
t stderr-broken-pipe sh -c "[ '$r' = 0 ] && [ -e b-ran ]"
"$WALTER" -c p.yml >&- 2>/dev/null; r=$?
t stdout-closed [ "$r" = 0 ]

# 1000 parallel tasks under a small fd limit: success, or a clear error
{
	printf 'pipeline:\n  - name: g\n    parallel:\n'
	i=0; while [ $i -lt 1000 ]; do printf '      - name: t%d\n        command: "true"\n' $i; i=$((i+1)); done
} > many.yml
(ulimit -n 64; "$WALTER" -c many.yml >/dev/null 2>err.txt); r=$?
t thousand-parallel-fd-limit sh -c "[ $r = 0 ] && has err.txt 'Summary: 1001 tasks: 1001 succeeded'"
"$WALTER" -c many.yml >/dev/null 2>err.txt; r=$?
t thousand-parallel sh -c "[ $r = 0 ] && has err.txt 'Summary: 1001 tasks: 1001 succeeded'"

# hostile pipeline files: clear located errors, never a crash
python3 - <<'PY'
open("deep.yml", "w").write("pipeline: " + "[" * 10000 + "]" * 10000 + "\n")
open("deepblock.yml", "w").write("pipeline:\n" + "".join(" " * i + "- \n" for i in range(0, 6000, 2)))
lol = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
for i in range(1, 12):
    lol += "a%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10))
open("bomb.yml", "w").write(lol + "pipeline: *a11\n")
open("nul.yml", "wb").write(b"pipeline:\n  - name: a\x00b\n")
import random
r = random.Random(7)
open("garbage.yml", "wb").write(bytes(r.randrange(256) for _ in range(100000)))
open("longline.yml", "w").write("# " + "c" * (10 << 20) + "\npipeline:\n  - name: long\n    command: echo " + "x" * (10 << 20) + "\n")
open("crlf.yml", "wb").write(b"pipeline:\r\n  - name: crlf\r\n    command: echo crlf ok\r\n")
open("bom.yml", "wb").write(b"\xef\xbb\xbfpipeline:\n  - name: bom\n    command: echo bom ok\n")
PY
for f in deep deepblock bomb nul garbage; do
	timeout 20 "$WALTER" -c $f.yml >/dev/null 2>err.txt; r=$?
	t hostile-$f sh -c "[ $r = 2 ] && grep -q '^walter: $f.yml:[0-9]*:[0-9]*: ' err.txt"
done
timeout 60 "$WALTER" -c longline.yml >/dev/null 2>err.txt; r=$?
t hostile-10mb-lines sh -c "[ $r = 1 ] && has err.txt '[long] Task failed: cannot run' && has err.txt 'Argument list too long'"
w -c crlf.yml
t crlf-works has err.txt "[crlf] crlf ok"
w -c bom.yml
t bom-works has err.txt "[bom] bom ok"
