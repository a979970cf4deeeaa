# Notifications that fail, hang or go over TLS: the pipeline's exit code
# and task output never change, the run is held up at most by the
# notifier's timeout, secrets (URL paths, tokens) never reach the log or
# curl's command line. TLS: stunnel as the server, reached by curl and by
# a second stunnel in client mode as the TLS proxy (no curl on PATH).
. "$top/tests/sys/lib.sh"
. "$top/tests/sys/notify.lib"

cat > base.yml <<'Y'
pipeline:
  - name: first
    command: echo first-out; echo first-err >&2
  - name: second
    command: echo second-out; exit 3
cleanup:
  - name: clean
    command: echo cleaned
Y
w -c base.yml
base_rc=$rc
task_lines err.txt > base.lines

# with NAME MESSENGER-YAML: base.yml with a messenger block in NAME.yml
with() { { printf '%s\n' "$2"; cat base.yml; } > "$1.yml"; }
# same NAME: exit code and task output as without notifiers, no secret logged
same() {
	task_lines err.txt > "$1.lines"
	eq "$1-exit-unchanged" "$rc" "$base_rc"
	c "$1-output-unchanged" "cmp -s base.lines $1.lines"
	c "$1-no-secret-logged" '! grep -q SECRET err.txt'
}
# we VAR=VALUE... ARGS: walter with a changed environment (through env, so
# nothing leaks into the rest of the test), like w.
we() {
	_a=
	while [ $# -gt 0 ] && [ "${1#*=}" != "$1" ] && [ "${1#-}" = "$1" ]; do _a="$_a $1"; shift; done
	# shellcheck disable=SC2086
	env $_a "$WALTER" "$@" >out.txt 2>err.txt </dev/null
	rc=$?
}
# phase_fast: the pipeline itself took under a second (the phase lines)
phase_fast() { grep -E 'Pipeline (failed|succeeded) \(0\.[0-9]+s\)' err.txt >/dev/null; }

# ---- closed port ----------------------------------------------------------
cport=$(free_port)
with closed "messenger:
  type: slack
  url: http://127.0.0.1:$cport/services/SECRET-PATH?token=SECRET-QUERY
  channel: c"
tw -c closed.yml
same closed
c closed-logged 'has err.txt "ERROR [first] Failed to notify to slack: 127.0.0.1:$cport"'
eq closed-each-message "$(grep -c 'Failed to notify to slack' err.txt)" 3
c closed-fast '[ $took -lt 4000 ]'

# ---- 500: retried once, then logged -----------------------------------------
start e500 --fail-first 99
with e500 "notify:
  - type: webhook
    url: http://127.0.0.1:$port/SECRET-500"
w -c e500.yml
same e500
eq e500-two-tries-each "$(count e500.log)" 6
c e500-logged 'has err.txt "ERROR [second] Failed to notify to webhook: 127.0.0.1:$port answered HTTP 500"'
start flaky --fail-first 1
with flaky "notify:
  - type: webhook
    url: http://127.0.0.1:$port/SECRET-FLAKY"
w -c flaky.yml
same flaky
eq flaky-retry-recovers "$(count flaky.log)/$(grep -c 'Failed to notify' err.txt)" "4/0"
start e404 --status 404
with e404 "notify:
  - type: hipchat2
    room_id: r
    token: SECRET-TOKEN
    base_url: http://127.0.0.1:$port/"
w -c e404.yml
same e404
c e404-logged 'has err.txt "Failed to notify to hipchat2: 127.0.0.1:$port answered HTTP 404"'
eq e404-not-retried "$(count e404.log)" 3

# ---- a server that never answers: bounded by the notifier's timeout ---------
start hang --hang
with hang "notify:
  - type: slack
    url: http://127.0.0.1:$port/SECRET-HANG
    timeout: 1"
tw -c hang.yml
same hang
c hang-bounded '[ $took -lt 3500 ]'
c hang-pipeline-not-held-up phase_fast
c hang-logged 'has err.txt "Failed to notify to slack: 127.0.0.1:$port: no response within 1000 ms"'
c hang-later-dropped 'has err.txt "slack (127.0.0.1:$port) did not answer in time: its later messages are dropped"'
eq hang-one-request "$(count hang.log)" 1
# default timeouts (10 s): the pipeline is still not held up while it runs,
# and walter waits at most timeout + 2 s at the end
start hang2 --hang
printf 'notify:\n  - type: webhook\n    url: http://127.0.0.1:%s/h\npipeline:\n  - name: a\n    command: sleep 1\n  - name: b\n    command: "true"\n' "$port" > hang2.yml
tw -c hang2.yml
c hang-default-not-held-up '[ $rc = 0 ] && grep -qE "Pipeline succeeded \(1\.[0-9]+s\)" err.txt'
c hang-default-bounded '[ $took -ge 9000 ] && [ $took -lt 14500 ]'

# ---- exec commands: what they leave behind is stopped with walter; several
# hung notifiers are cut off at the longest timeout + 2 s -------------------
procs_with() {
	for d in /proc/[0-9]*; do
		tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q -- "$1" && echo "${d#/proc/}"
	done
}
tag=walter-notify-test-$$
printf 'notify:\n  - type: exec\n    command: "(sleep 60; : %s) & echo detached"\npipeline:\n  - name: a\n    command: "true"\n' "$tag" > leave.yml
tw -c leave.yml
c exec-leftover-stopped '[ $rc = 0 ] && [ $took -lt 3000 ] && [ -z "$(procs_with "$tag")" ]'
{ printf 'notify:\n'
  for i in 1 2 3 4; do printf '  - type: exec\n    command: "sleep 60; : %s"\n    timeout: 1\n' "$tag"; done
  printf 'pipeline:\n  - name: a\n    command: "true"\n'; } > stuck.yml
tw -c stuck.yml
c exec-stuck-cut-off '[ $rc = 0 ] && [ $took -ge 2900 ] && [ $took -lt 4500 ] && has err.txt "ERROR notifications still unsent after 3s: stopped"'
c exec-stuck-nothing-left '[ -z "$(procs_with "$tag")" ]'

# ---- https through curl: a fake curl first on PATH records what it gets ------
# (and answers as curl's "include" prints a response)
mkdir fakebin emptybin
cat > fakebin/curl <<'SH'
#!/bin/sh
printf '%s\n' "$@" >> "$FAKE_DIR/argv.txt"
cat >> "$FAKE_DIR/stdin.txt"
printf 'HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\nfake body\n'
SH
chmod +x fakebin/curl
export FAKE_DIR=$PWD
with fake "notify:
  - type: slack
    url: https://hooks.example.invalid/services/SECRET-SLACK
  - type: hipchat
    room_id: r
    token: SECRET-HIPCHAT
    base_url: https://hipchat.example.invalid/v1
  - type: hipchat2
    room_id: r
    token: SECRET-HIPCHAT2
    base_url: https://hipchat.example.invalid/v2"
we PATH="$PWD/fakebin:$PATH" -c fake.yml
same fake
eq fake-curl-runs "$(grep -c '^-q$' argv.txt)" 9
eq fake-curl-argv "$(sort -u argv.txt | tr '\n' ' ')" "- --config -q "
c fake-curl-no-secret-in-argv '! grep -q SECRET argv.txt'
c fake-curl-url-on-stdin 'has stdin.txt "url = \"https://hooks.example.invalid:443/services/SECRET-SLACK\"" &&
	has stdin.txt "url = \"https://hipchat.example.invalid:443/v1/rooms/message?auth_token=SECRET-HIPCHAT\""'
c fake-curl-header-on-stdin 'has stdin.txt "header = \"Authorization: Bearer SECRET-HIPCHAT2\""'
c fake-curl-success '! grep -q "Failed to notify" err.txt'
we PATH="$PWD/emptybin" -c fake.yml
same no-https-way
c no-https-way-logged 'has err.txt "Failed to notify to slack: https://hooks.example.invalid needs a TLS proxy (tls_proxy or WALTER_TLS_PROXY) or curl on PATH"'

# ---- real TLS: stunnel server; curl, WALTER_TLS_PROXY, tls_proxy ------------
need_ok=1
for tool in openssl stunnel4 curl; do
	command -v "$tool" >/dev/null 2>&1 || { echo "FAIL tls-$tool: $tool not installed"; need_ok=0; }
done
if [ $need_ok = 1 ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >openssl.txt 2>&1 ||
		echo "FAIL tls-cert: openssl req failed"
	start tlsweb
	sport=$(free_port)
	printf 'foreground = yes\npid =\n[tls]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s/cert.pem\nkey = %s/key.pem\n' \
		"$sport" "$port" "$PWD" "$PWD" > server.conf
	stunnel4 server.conf >server.txt 2>&1 &
	pids="$pids $!"
	wait_port "$sport" || echo "FAIL tls-stunnel-server: not listening"
	tport=$(free_port)
	printf 'foreground = yes\npid =\n[tlsproxy]\nclient = yes\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\nCAfile = %s/cert.pem\nverifyChain = yes\ncheckIP = 127.0.0.1\n' \
		"$tport" "$sport" "$PWD" > client.conf
	stunnel4 client.conf >client.txt 2>&1 &
	pids="$pids $!"
	wait_port "$tport" || echo "FAIL tls-stunnel-client: not listening"

	printf 'notify:\n  - type: webhook\n    url: https://127.0.0.1:%s/tls/curl-SECRET\npipeline:\n  - name: a\n    command: "true"\n' "$sport" > tcurl.yml
	we CURL_CA_BUNDLE="$PWD/cert.pem" -c tcurl.yml
	eq tls-curl "$rc $(q tlsweb.log 1 'r["path"] + " " + J["name"] + " " + J["status"]')" "0 /tls/curl-SECRET a success"
	c tls-curl-quiet '! grep -q -e SECRET -e "Failed to notify" err.txt'
	w -c tcurl.yml
	c tls-untrusted-logged '[ $rc = 0 ] && has err.txt "Failed to notify to webhook: 127.0.0.1:$sport" && ! has err.txt SECRET'

	printf 'notify:\n  - type: slack\n    url: https://127.0.0.1:%s/tls/proxy-SECRET\n    channel: tls\nbuild:\n  tasks:\n    - name: b\n      command: "true"\n' "$sport" > tproxy.yml
	: > tlsweb.log
	we WALTER_TLS_PROXY=127.0.0.1:$tport PATH="$PWD/emptybin" -c tproxy.yml
	eq tls-proxy-env "$rc $(q tlsweb.log 1 'r["path"] + " " + J["attachments"][0]["text"] + " " + J["channel"]')" \
		"0 https://127.0.0.1:$sport/tls/proxy-SECRET [b] Succeeded #tls"
	printf '    tls_proxy: 127.0.0.1:%s\n' "$tport" > key.txt
	sed '/channel: tls/r key.txt' tproxy.yml > tkey.yml
	we PATH="$PWD/emptybin" -c tkey.yml
	eq tls-proxy-key "$rc $(q tlsweb.log 2 'r["path"]')" "0 https://127.0.0.1:$sport/tls/proxy-SECRET"
	cport=$(free_port)
	sed "s/$tport/$cport/" tkey.yml > tdown.yml
	we PATH="$PWD/emptybin" -c tdown.yml
	c tls-proxy-down '[ $rc = 0 ] && has err.txt "via TLS proxy 127.0.0.1:$cport" && ! has err.txt SECRET'
fi

# ---- the worker dies mid-run: walter notices, goes on, exit code unchanged --
# (the exec command kills the worker, its parent, when "first" ended, and
# says so in a file; "second" waits for that file, so the worker is dead
# while tasks still run)
start late
cat > die.yml <<Y
notify:
  - type: exec
    command: kill -9 \$PPID; touch worker-killed
  - type: webhook
    url: http://127.0.0.1:$port/late
Y
sed 's/echo second-out;/i=0; while [ ! -e worker-killed ] \&\& [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; echo second-out;/' base.yml >> die.yml
tw -c die.yml
same die
c die-noticed 'has err.txt "ERROR the notification worker ended early (signal 9): notifications are off"'
c die-fast '[ $took -lt 4000 ]'
c die-no-more-requests '[ "$(count late.log)" -le 1 ]'
# the worker dying at the very end (its log pipe at EOF, not a zombie yet)
# is still noticed: 30 runs, every one says so
printf 'notify:\n  - type: exec\n    command: kill -9 $PPID\npipeline:\n  - name: a\n    command: "true"\n' > dieend.yml
i=0; seen=0
while [ $i -lt 30 ]; do
	"$WALTER" -c dieend.yml >/dev/null 2>err.txt </dev/null
	has err.txt "the notification worker ended early (signal 9)" && seen=$((seen + 1))
	i=$((i + 1))
done
eq die-at-end-noticed-30-of-30 "$seen" 30

# ---- a signal: tasks aborted, the cleanup still notified, then 130 ----------
start sig
printf 'messenger:\n  type: slack\n  url: http://127.0.0.1:%s/sig\npipeline:\n  - name: long\n    command: touch started; sleep 30\ncleanup:\n  - name: clean\n    command: "true"\n' "$port" > sig.yml
rm -f started
"$WALTER" -c sig.yml >out.txt 2>err.txt </dev/null &
wpid=$!
wait_file started 1000
kill -INT $wpid
wait $wpid; rc=$?
eq sig-exit "$rc" 130
eq sig-messages "$(qa sig.log 'P["attachments"][0]["text"]' | tr '\n' '|')" "[long][RESULT] Aborted|[clean][RESULT] Succeeded|"
