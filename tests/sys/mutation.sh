# Mutation test: 500 damaged versions of the example pipelines (deleted
# bytes, inserted YAML punctuation, truncation). -yaml-to-json and a real
# run must end with 0, 1 or 2 within a bound, never by a signal.
. "$top/tests/sys/lib.sh"

python3 - "$WALTER" "$top/examples" > mutation.txt 2>&1 <<'PY'
import os, random, subprocess, sys
walter, ex = sys.argv[1], sys.argv[2]
seeds = [open(os.path.join(ex, f), "rb").read() for f in sorted(os.listdir(ex)) if f.endswith(".yml")]
punct = [b":", b"-", b" ", b"\n", b"[", b"]", b"{", b"}", b",", b"&a", b"*a", b"!", b"|", b">",
         b"'", b'"', b"#", b"?", b"%", b"@", b"`", b"\t", b"\r\n", b"<<: ", b"---\n", b"\x00", b"\xff"]
rng = random.Random(20261124)
bad = []
for i in range(500):
    s = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(3)
        p = rng.randrange(len(s) + 1)
        if op == 0 and len(s) > 1:
            del s[p:p + rng.randint(1, 8)]
        elif op == 1:
            s[p:p] = rng.choice(punct)
        else:
            del s[p:]
    with open("m.yml", "wb") as f:
        f.write(s)
    for args in (["-yaml-to-json", "m.yml"], ["-c", "m.yml", "-build", "-deploy"], ["-c", "m.yml"]):
        try:
            r = subprocess.run([walter] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
            if r.returncode not in (0, 1, 2):
                bad.append((i, args[0], r.returncode))
            elif r.returncode == 2 and not r.stderr.strip():
                bad.append((i, args[0], "exit 2 without a message"))
        except subprocess.TimeoutExpired:
            bad.append((i, args[0], "timeout"))
    if len(bad) > 5:
        break
for b in bad:
    print("bad", b)
    os.rename("m.yml", "failing-%d.yml" % b[0]) if os.path.exists("m.yml") else None
print("mutations done, %d bad" % len(bad))
PY
t mutation-500 has mutation.txt "mutations done, 0 bad"
grep '^bad' mutation.txt | head -5
