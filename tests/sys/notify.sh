# Notifications: what each type posts in each dialect (method, path,
# headers, payload fields), message: true, report_full_output, suppress,
# suppress_all, on:, summary:, exec's stdin, the webhook schema, and the
# load-time checks of notifier settings.
. "$top/tests/sys/lib.sh"
. "$top/tests/sys/notify.lib"

# ---- D0: the seed with a messenger; only "message: true" stages ------------
start d0
{ printf 'messenger:\n  type: slack\n  url: http://127.0.0.1:%s/services/D0/SEED\n  channel: seed\n' "$port"
  cat "$top/examples/seed.yml"; } > seed.yml
w -c seed.yml
eq d0-exit "$rc" 0
eq d0-only-message-stages "$(count d0.log)" 2
eq d0-method-path "$(q d0.log 1 'r["method"] + " " + r["path"]')" "POST /services/D0/SEED"
eq d0-form "$(q d0.log 1 'H["content-type"]')" application/x-www-form-urlencoded
eq d0-first "$(q d0.log 1 'P["attachments"][0]["text"]')" "[command_stage_1][RESULT] Succeeded"
eq d0-second "$(q d0.log 2 'P["attachments"][0]["text"]')" "[command_stage_4][RESULT] Succeeded"
eq d0-colour "$(q d0.log 1 'P["attachments"][0]["color"]')" good
eq d0-channel-hash "$(q d0.log 1 'P["channel"]')" "#seed"
eq d0-one-form-field "$(q d0.log 1 'sorted(F)')" '["payload"]'
c d0-stdout-empty '[ ! -s out.txt ]'

# ---- D1: report_full_output, suppress_all, only_if, skip, cleanup ----------
start d1
d1port=$port
cat > d1.yml <<Y
messenger:
  type: slack
  url: http://127.0.0.1:$port/d1
  channel: "#ci"
  username: walter
  icon: ":robot_face:"
  icon_url: http://example.invalid/w.png
pipeline:
  - name: full
    command: echo out-line; echo err-line >&2
    report_full_output: true
  - name: nofull
    command: echo hidden
    report_full_output: false
  - name: muted
    command: "true"
    suppress_all: true
  - name: cond
    only_if: "false"
    command: echo no
  - name: bad
    command: echo "[RESULT] Succeeded"; exit 3
  - name: after
    command: echo never
cleanup:
  - name: clean
    command: "true"
Y
w -c d1.yml
eq d1-exit "$rc" 1
eq d1-count "$(count d1.log)" 8
eq d1-texts "$(qa d1.log 'P["attachments"][0]["text"]' | tr '\n' '|')" \
	"[full][RESULT] Succeeded|[full][STDOUT] out-line||[full][STDERR] err-line||[nofull][RESULT] Succeeded|[cond][RESULT] Skipped (condition)|[bad][RESULT] Failed|[after][RESULT] Skipped|[clean][RESULT] Succeeded|"
# colours come from the result, not from the text ("bad" prints "[RESULT] Succeeded")
eq d1-colours "$(qa d1.log 'P["attachments"][0].get("color", "-")' | tr '\n' ' ')" \
	"good - - good warning danger warning good "
eq d1-fields "$(q d1.log 1 'sorted(P)')" '["attachments", "channel", "icon_emoji", "icon_url", "username"]'
eq d1-identity "$(q d1.log 1 'P["channel"] + " " + P["username"] + " " + P["icon_emoji"] + " " + P["icon_url"]')" \
	"#ci walter :robot_face: http://example.invalid/w.png"
eq d1-no-suppress-leak "$(q d1.log 1 '"SuppressFields" in P or "text" in P')" false
c d1-log-unchanged 'has err.txt "[full] out-line" && has err.txt "ERROR [bad] Task failed: exit status 3"'

# suppress drops kinds of messages for every stage
sed 's/^  icon_url: .*/  suppress: [result, stdout]/' d1.yml > d1s.yml
: > d1.log
w -c d1s.yml
eq d1-suppress-only-stderr "$(qa d1.log 'P["attachments"][0]["text"]' | tr '\n' '|')" "[full][STDERR] err-line||"
# report_full_output without a notifier that posts output: nothing posted
sed 's/^  suppress: .*/  suppress: [stdout, stderr]/' d1s.yml > d1t.yml
: > d1.log
w -c d1t.yml
eq d1-suppress-output "$(count d1.log)/$(q d1.log 1 'P["attachments"][0]["text"]')" "6/[full][RESULT] Succeeded"

# ---- D2: every type at once ---------------------------------------------
start slack; ps=$port
start hc; phc=$port
start hc2; phc2=$port
start wh; pwh=$port
cat > d2.yml <<Y
notify:
  - type: slack
    channel: deploys
    url: http://127.0.0.1:$ps/services/T000/B000/XXXX
    username: walter
    icon_url: http://example.invalid/w.png
  - type: hipchat
    room_id: Ops Room
    token: HC1-TOKEN
    from: ci
    base_url: http://127.0.0.1:$phc/v1
  - type: hipchat2
    room_id: Ops Room
    token: HC2-TOKEN
    base_url: http://127.0.0.1:$phc2/v2
  - type: webhook
    url: http://127.0.0.1:$pwh/events
  - type: exec
    command: cat >> exec-events.jsonl; (ls /proc/\$\$/fd) > exec-fds.txt  # an exec command is the shell's: \$\$ is its pid
  - type: fake
    url: http://127.0.0.1:1/never
build:
  tasks:
    - name: version
      command: echo 1.2.3
    - name: cond
      only_if: "false"
      command: echo no
    - name: checks
      parallel:
        - name: lint
          command: echo linted
        - name: unit
          serial:
            - name: compile
              command: ls /proc/\$\$/fd
    - name: test
      command: echo tested >&2; exit 4
    - name: never
      command: echo never
  cleanup:
    - name: tidy
      command: echo tidy
Y
w -build -c d2.yml
eq d2-exit "$rc" 1
want="[compile] Succeeded good|[cond] Skipped (condition) warning|[lint] Succeeded good|[never] Skipped warning|[test] Failed danger|[tidy] Succeeded good|[version] Succeeded good|"
eq d2-slack-texts "$(qa slack.log 'J["attachments"][0]["text"] + " " + J["attachments"][0]["color"]' | sort | tr '\n' '|')" "$want"
eq d2-slack-json "$(q slack.log 1 'H["content-type"] + " " + r["path"]')" "application/json /services/T000/B000/XXXX"
eq d2-slack-fields "$(q slack.log 1 'sorted(J)')" '["attachments", "channel", "icon_url", "username"]'
eq d2-slack-channel "$(q slack.log 1 'J["channel"]')" "#deploys"
eq d2-slack-first "$(q slack.log 1 'J["attachments"][0]["text"]')" "[version] Succeeded"

eq d2-hipchat-count "$(count hc.log)" 7
eq d2-hipchat-path "$(q hc.log 1 'r["path"]')" "/v1/rooms/message?auth_token=HC1-TOKEN"
eq d2-hipchat-type "$(q hc.log 1 'H["content-type"]')" application/x-www-form-urlencoded
eq d2-hipchat-form "$(q hc.log 1 'sorted(F.items())')" \
	'[["color", "purple"], ["from", "ci"], ["message", "[version] Succeeded"], ["message_format", "text"], ["notify", "1"], ["room_id", "Ops Room"]]'

eq d2-hipchat2-count "$(count hc2.log)" 7
eq d2-hipchat2-path "$(q hc2.log 1 'r["path"]')" "/v2/room/Ops%20Room/notification"
eq d2-hipchat2-auth "$(q hc2.log 1 'H["authorization"] + " " + H["content-type"]')" "Bearer HC2-TOKEN application/json"
eq d2-hipchat2-body "$(q hc2.log 1 'J')" '{"color": "purple", "message": "[version] Succeeded", "message_format": "text", "notify": true}'

eq d2-webhook-count "$(count wh.log)" 7
eq d2-webhook-type "$(q wh.log 1 'r["method"] + " " + r["path"] + " " + H["content-type"]')" "POST /events application/json"
# the schema documented in README.md, field by field
cat > schema.py <<'PY'
import json, re, socket, sys
ok = True
def check(cond, what):
    global ok
    if not cond:
        print("schema: %s" % what); ok = False
t3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
keys = {"event", "version", "file", "host", "phase", "cleanup", "name", "path", "status",
        "exit_code", "attempts", "duration", "start", "end", "text"}
for line in open(sys.argv[1]):
    e = json.loads(json.loads(line)["body"]) if sys.argv[2] == "log" else json.loads(line)
    check(keys <= set(e), "missing %s" % (keys - set(e)))
    check(set(e) <= keys | {"reason", "stdout", "stderr"}, "extra %s" % (set(e) - keys))
    check(e["event"] == "task" and e["file"] == "d2.yml" and e["phase"] == "build", "event/file/phase")
    check(e["host"] == socket.gethostname(), "host")
    check(t3339.match(e["start"]) and t3339.match(e["end"]) and e["start"] <= e["end"], "times")
    check(isinstance(e["duration"], (int, float)) and e["duration"] >= 0, "duration")
    check(e["status"] in ("success", "failure", "skipped", "aborted", "condition_false"), "status")
    check(e["cleanup"] == (e["name"] == "tidy"), "cleanup flag")
    want = {"version": ("success", 0, ["version"]), "cond": ("condition_false", None, ["cond"]),
            "lint": ("success", 0, ["checks", "lint"]),
            "compile": ("success", 0, ["checks", "unit", "compile"]),
            "test": ("failure", 4, ["test"]), "never": ("skipped", None, ["never"]),
            "tidy": ("success", 0, ["tidy"])}[e["name"]]
    check((e["status"], e["exit_code"], e["path"]) == want, "%s: %s" % (e["name"], (e["status"], e["exit_code"], e["path"])))
    check(e["text"].startswith("[%s] " % e["name"]), "text")
sys.exit(0 if ok else 1)
PY
t d2-webhook-schema python3 schema.py wh.log log
eq d2-exec-count "$(count exec-events.jsonl)" 7
t d2-exec-stdin-schema python3 schema.py exec-events.jsonl raw
eq d2-exec-fds "$(tr '\n' ' ' < exec-fds.txt)" "0 1 2 "
c d2-task-fds 'grep -q "INFO \[compile\] 0$" err.txt && ! grep -q "INFO \[compile\] 3$" err.txt'
c d2-stdout-empty '[ ! -s out.txt ]'

# ---- on: and summary: -------------------------------------------------------
start on; pon=$port
start sum; psum=$port
start sumwh; psumwh=$port
sed '/^notify:/,/^build:/d' d2.yml > tasks.yml
{ cat <<Y
notify:
  - type: webhook
    url: http://127.0.0.1:$pon/on
    on: [failure, skipped]
  - type: slack
    url: http://127.0.0.1:$psum/sum
    summary: true
  - type: webhook
    url: http://127.0.0.1:$psumwh/sumwh
    summary: yes
    on: success
  - type: exec
    command: cat > summary.json
    summary: true
build:
Y
  cat tasks.yml; } > on.yml
w -c on.yml
eq on-exit "$rc" 1
eq on-filtered "$(qa on.log 'J["name"] + ":" + J["status"]' | sort | tr '\n' ' ')" "cond:condition_false never:skipped test:failure "
eq summary-one "$(count sum.log)" 1
c summary-text 'q sum.log 1 "J[\"attachments\"][0][\"text\"]" | grep -qE "^\[on.yml\] Failed: 4 succeeded, 1 failed, 1 skipped, 0 aborted, 1 condition false \([0-9.]+s\); failed: test$"'
eq summary-colour "$(q sum.log 1 'J["attachments"][0]["color"]')" danger
eq summary-on-success-quiet "$(count sumwh.log)" 0
eq summary-exec-event "$(python3 -c 'import json; e = json.load(open("summary.json")); print(e["status"], e["text"].endswith("; failed: test"), e["failed"])')" \
	"failure True [{'name': 'test', 'path': ['test'], 'exit_code': 4}]"
sed 's/exit 4/exit 0/' on.yml > good.yml
w -c good.yml
eq good-exit "$rc" 0
eq summary-success-event "$(q sumwh.log 1 '[J["event"], J["status"], J["counts"], J["failed"], J["file"]]')" \
	'["summary", "success", {"aborted": 0, "condition_false": 1, "failure": 0, "skipped": 0, "success": 6}, [], "good.yml"]'
eq summary-success-slack "$(q sum.log 2 'J["attachments"][0]["color"]')" good

# ---- report_full_output through webhook and exec (D1) -----------------------
start full
cat > full.yml <<Y
notify:
  - type: webhook
    url: http://127.0.0.1:$port/full
  - type: exec
    command: cat > full-exec.json
    suppress: [stderr]
pipeline:
  - name: talk
    command: printf 'a "quoted" line\\n'; echo oops >&2
    report_full_output: yes
Y
w -c full.yml
eq full-webhook-output "$(q full.log 1 '[J["stdout"], J["stderr"], J["text"], J["phase"]]')" \
	'["a \"quoted\" line\n", "oops\n", "[talk][RESULT] Succeeded", "pipeline"]'
eq full-exec-suppress "$(python3 -c 'import json; e = json.load(open("full-exec.json")); print(e["stdout"], "stderr" in e)')" \
	'a "quoted" line
 False'

# ---- exec failures are logged, nothing more ---------------------------------
printf 'notify:\n  - type: exec\n    command: echo exec-said-this >&2; exit 5\npipeline:\n  - name: one\n    command: echo one\n' > execfail.yml
w -c execfail.yml
eq exec-fail-exit "$rc" 0
c exec-fail-logged 'has err.txt "ERROR [one] Failed to notify to exec: exit status 5" && has err.txt "ERROR [one] exec: exec-said-this"'
printf 'notify:\n  - type: exec\n    command: "sleep 30"\n    timeout: 0.5\npipeline:\n  - name: one\n    command: echo one\n' > exechang.yml
tw -c exechang.yml
c exec-hang-bounded '[ $rc = 0 ] && [ $took -lt 4000 ] && has err.txt "Failed to notify to exec: still running after 0.5s: killed"'

# ---- load-time checks ------------------------------------------------------
# bad NAME TEXT YAML: exit 2 with a located TEXT
bad() {
	printf '%b' "$3" > "$1.yml"
	"$WALTER" -c "$1.yml" >out.txt 2>err.txt </dev/null; r=$?
	if [ $r = 2 ] && grep -qF -- "$2" err.txt; then echo "ok $1"
	else echo "FAIL $1: exit $r, stderr: $(head -3 err.txt | tr '\n' ' ')"; fi
}
P='pipeline:\n  - name: a\n    command: "true"\n'
bad slack-no-url 'walter: slack-no-url.yml:2:3: a slack notifier needs "url"' "messenger:\n  type: slack\n  channel: x\n$P"
bad webhook-no-url 'a webhook notifier needs "url"' "notify:\n  - type: webhook\n$P"
bad hipchat-no-token 'walter: hipchat-no-token.yml:2:3: a hipchat notifier needs "token"' "messenger:\n  type: hipchat\n  room_id: r\n$P"
bad hipchat2-no-room 'a hipchat2 notifier needs "room_id"' "messenger:\n  type: hipchat2\n  token: t\n$P"
bad exec-no-command 'an exec notifier needs "command"' "notify:\n  - type: exec\n$P"
bad on-word 'walter: on-word.yml:3:19: unknown word "sometimes" in "on" (use success, failure, skipped, aborted)' \
	"notify:\n  - type: fake\n    on: [success, sometimes]\n$P"
bad suppress-word 'unknown word "everything" in "suppress"' "messenger:\n  type: fake\n  suppress: [everything]\n$P"
bad timeout-word 'walter: timeout-word.yml:4:14: "timeout" must be a duration' "notify:\n  - type: exec\n    command: x\n    timeout: soon\n$P"
bad timeout-zero '"timeout" of a notifier must be more than 0' "notify:\n  - type: exec\n    command: x\n    timeout: 0\n$P"
bad summary-bool '"summary" must be true or false' "notify:\n  - type: exec\n    command: x\n    summary: daily\n$P"
bad url-scheme 'the url of this webhook notifier is not usable: URL must start with http:// or https://' \
	"notify:\n  - type: webhook\n    url: ftp://127.0.0.1/SECRET-PATH\n$P"
c url-scheme-hides-url '! has err.txt SECRET-PATH'
bad base-url 'the base_url of this hipchat2 notifier is not usable' "notify:\n  - type: hipchat2\n    room_id: r\n    token: t\n    base_url: nowhere\n$P"
bad tls-proxy '"tls_proxy" must be host:port' "notify:\n  - type: webhook\n    url: https://127.0.0.1/x\n    tls_proxy: localhost\n$P"
bad d1-unknown-type 'no messenger type: carrier-pigeon' "messenger:\n  type: carrier-pigeon\n$P"

# unknown keys: a located warning with a did-you-mean; an error under -check
printf 'messenger:\n  type: slack\n  url: http://127.0.0.1:%s/x\n  chanel: c\npipeline: []\n' "$d1port" > typo.yml
w -c typo.yml
c typo-warns '[ $rc = 0 ] && has err.txt "walter: typo.yml:4:3: warning: unknown key \"chanel\" in a slack notifier (did you mean \"channel\"?)"'
w -check -c typo.yml
eq typo-check-fails "$rc" 2
printf 'notify:\n  - type: fake\n    anything: goes\n    url: x\npipeline: []\n' > fake.yml
w -check -c fake.yml
eq fake-takes-any-key "$rc" 0
# an empty setting (an unset variable) switches the notifier off with a warning
unset WALTER_TEST_UNSET_URL
printf 'notify:\n  - type: webhook\n    url: $WALTER_TEST_UNSET_URL\npipeline:\n  - name: a\n    command: "true"\n' > unset.yml
w -c unset.yml
c unset-url-warns '[ $rc = 0 ] && has err.txt "warning: \"url\" of this webhook notifier is empty (an unset variable?): it sends nothing"'
# $VAR substitution in every value
start subst
WALTER_TEST_HOOK="http://127.0.0.1:$port/from-env" WALTER_TEST_CH=envchan "$WALTER" -c /dev/stdin >out.txt 2>err.txt <<'Y'
notify:
  - type: slack
    url: $WALTER_TEST_HOOK
    channel: ${WALTER_TEST_CH}
pipeline:
  - name: a
    command: "true"
Y
eq subst-values "$(q subst.log 1 'r["path"] + " " + P["channel"]')" "/from-env #envchan"

# ---- secrets: masked in what is said, not in where it is posted -------------
start mask
MY_API_TOKEN=s3cr3t-value-42 WALTER_TEST_CH=maskchan WALTER_TEST_HC2=hc2-s3cr3t-tok \
WALTER_TEST_PORT=$port "$WALTER" -c /dev/stdin >out.txt 2>err.txt <<'Y'
notify:
  - type: slack
    url: http://127.0.0.1:${WALTER_TEST_PORT}/mask
    channel: $WALTER_TEST_CH
  - type: webhook
    url: http://127.0.0.1:${WALTER_TEST_PORT}/maskwh
  - type: hipchat2
    room_id: r
    token: $WALTER_TEST_HC2
    base_url: http://127.0.0.1:${WALTER_TEST_PORT}/
pipeline:
  - name: leak
    command: echo "token is $MY_API_TOKEN"; echo "and $WALTER_TEST_HC2" >&2
    report_full_output: true
Y
eq mask-slack-stdout "$(q mask.log 2 'P["attachments"][0]["text"] + "|" + P["channel"]')" "[leak][STDOUT] token is ***
|#maskchan"
eq mask-webhook-output "$(qa mask.log 'J.get("stdout", "") + J.get("stderr", "") if r["path"] == "/maskwh" else ""' | tr -d '\n')" "token is ***and ***"
eq mask-hipchat2-auth-real "$(qa mask.log 'H.get("authorization", "")' | sort -u | tr -d '\n')" "Bearer hc2-s3cr3t-tok"
c mask-nothing-in-bodies '! grep -q -e s3cr3t-value-42 -e "and hc2-s3cr3t" mask.log'
