# Secrets are masked as *** in the log and the reports.
. "$top/tests/sys/lib.sh"

cat > s.yml <<'Y'
pipeline:
  - name: leak
    env: {DB_PASSWORD: pa55word-in-env}
    command: echo "token=$API_TOKEN pw=$DB_PASSWORD hook=$MY_WEBHOOK_URL plain=$PLAIN"; echo "$API_TOKEN" >&2; exit 1
messenger:
  type: fake
  token: $NOTIFY_SECRET_VALUE
Y
API_TOKEN=s3cr3t-t0ken MY_WEBHOOK_URL=http://hook/abc123 PLAIN=visible-value NOTIFY_SECRET_VALUE=n0tify-secret \
	"$WALTER" -c s.yml -json r.json -junit r.xml >/dev/null 2>err.txt; r=$?
t secrets-run [ "$r" = 1 ]
t secrets-masked-in-log has err.txt "[leak] token=*** pw=*** hook=*** plain=visible-value"
t secrets-not-in-log sh -c '! grep -qE "s3cr3t-t0ken|pa55word-in-env|abc123" err.txt'
t secrets-not-in-reports sh -c '! grep -qE "s3cr3t-t0ken|pa55word-in-env|abc123" r.json r.xml && grep -q "\*\*\*" r.json'
printf 'pipeline:\n  - name: n\n    command: echo "n0tify-secret"\nmessenger:\n  type: fake\n  token: $NOTIFY_SECRET_VALUE\n' > n.yml
NOTIFY_SECRET_VALUE=n0tify-secret "$WALTER" -c n.yml >/dev/null 2>err.txt
t substituted-notifier-value-masked sh -c 'has err.txt "[n] ***" && ! grep -q n0tify-secret err.txt'

# leaks FILE SECRET...: some 5-byte piece of a line of a secret shows in
# FILE
leaks() {
	_f=$1; shift
	python3 - "$_f" "$@" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
for s in sys.argv[2:]:
    for line in s.encode().split(b"\n"):
        for i in range(0, max(0, len(line) - 4)):
            if len(line) >= 4 and line[i:i + 5] in data:
                print("leak:", line[i:i + 5]); sys.exit(0)
sys.exit(1)
PY
}

# -- a multi-line secret (a PEM key) is masked line by line, wherever
# output goes: the log, the summary, -logDir, -json, -junit, the event
key='-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBqd9gQ5Vx3Fv0mF3kP0tXhSYwqLHKnHk1S9Y7wGZ0iLwAAAJgKr2vOCq9r
-----END OPENSSH PRIVATE KEY-----'
cat > pem.yml <<'Y'
pipeline:
  - name: show the key
    report_full_output: true
    command: |
      printf '%s\n' "$DEPLOY_PRIVATE_KEY"
      printf 'on stderr: %s\n' "$DEPLOY_PRIVATE_KEY" >&2
      exit 1
notify:
  - type: exec
    command: cat >> events.json
Y
mkdir -p logs
DEPLOY_PRIVATE_KEY=$key "$WALTER" -c pem.yml -logDir logs -json pem.json -junit pem.xml >/dev/null 2>err.txt
t multiline-secret-run sh -c '[ -s events.json ] && has err.txt "[show the key] ***" && has err.txt "  | ***"'
for f in err.txt logdir pem.json pem.xml events.json; do
	[ $f = logdir ] && f=$(echo logs/*)
	t "multiline-secret-masked-in-${f%%/*}" sh -c '[ -f "$f" ] && ! leaks "$f" "$key"'
done

# -- a secret that straddles the 64 KiB split of a very long line: one
# line for each place of the cut inside it
sec='Zq9-s3cr3t-Value-Xy7W'
python3 -c '
import sys
s = sys.argv[1]
out = open("long.txt", "w")
for k in range(1, len(s)):
    out.write("a" * (65536 - k) + s + "b" * 10 + "\n")
out.write("c" * 70000 + s)  # and the last line, unterminated
' "$sec"
printf 'pipeline:\n  - name: long\n    report_full_output: true\n    command: cat long.txt\nnotify:\n  - type: exec\n    command: cat > long-event.json\n' > long.yml
rm -f logs/*
API_TOKEN=$sec "$WALTER" -c long.yml -logDir logs >/dev/null 2>err.txt
t split-secret-run sh -c '[ "$(grep -c "\[long\] a" err.txt)" -ge 20 ] && [ "$(grep -c "\*\*\*" err.txt)" -ge 20 ]'
t split-secret-masked-in-log sh -c '! leaks err.txt "$sec" && ! leaks logs/* "$sec"'
t split-secret-nothing-else-lost sh -c '[ "$(grep "\[long\] " err.txt | grep -v -e "Start task" -e "End task" | sed "s/^[^]]*\] //" | tr -d "*\n" | wc -c)" = "$(tr -d "\n" < long.txt | sed "s/$sec//g" | wc -c)" ]'
# the event's output is the last 64 KiB: a secret cut there is hidden too
python3 -c 'import sys; s = sys.argv[1]; open("tail.txt", "w").write("x" * 70000 + s + "y" * (65536 - len(s) // 2))' "$sec"
printf 'pipeline:\n  - name: tail\n    report_full_output: true\n    command: cat tail.txt\nnotify:\n  - type: exec\n    command: cat > tail-event.json\n' > tail.yml
API_TOKEN=$sec "$WALTER" -c tail.yml >/dev/null 2>err.txt
t tail-cut-secret-masked-in-event sh -c 'grep -q "\"stdout\":\"\.\.\.\\\\n\*\*\*yyy" tail-event.json && ! leaks tail-event.json "$sec"'

# -- masked the same everywhere: the event's name and path, -plan's
# substituted directories, task names in the reports
cat > names.yml <<'Y'
pipeline:
  - name: group of n0t-so-secret
    parallel:
      - name: deploy n0t-so-secret
        directory: /tmp
        command: "true"
  - name: in dir
    directory: /tmp/$MY_TOKEN_DIR/x
    command: "true"
notify:
  - type: exec
    command: cat >> names-events.json
Y
MY_TOKEN_DIR=n0t-so-secret "$WALTER" -c names.yml -json names.json -junit names.xml >/dev/null 2>err.txt
t names-masked-in-event sh -c 'grep -q "\"path\":\[\"group of \*\*\*\",\"deploy \*\*\*\"\]" names-events.json && ! grep -q n0t-so names-events.json'
t names-masked-in-reports sh -c '! grep -q n0t-so names.json names.xml && grep -q "deploy \*\*\*" names.json && grep -q "deploy \*\*\*" names.xml'
t names-masked-in-log sh -c '! grep -q n0t-so err.txt'
MY_TOKEN_DIR=n0t-so-secret "$WALTER" -plan -c names.yml >plan.txt 2>err.txt
t plan-directory-masked sh -c 'grep -q "directory /tmp/\*\*\*/x" plan.txt && ! grep -q n0t-so plan.txt'
