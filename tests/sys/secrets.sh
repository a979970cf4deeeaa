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
