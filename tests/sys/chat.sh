# tests/sys/chat.sh - the chat webhooks of today: discord, teams,
# mattermost, googlechat. What each posts (a result with its colour, task
# output, the summary), long output cut to what each service takes,
# secrets masked, and the load-time checks of their settings.
. "$top/tests/sys/lib.sh"
. "$top/tests/sys/notify.lib"

start discord
pd=$port
start teams
pt=$port
start mm
pm=$port
start gchat
pg=$port
cat > chat.yml <<Y
notify:
  - type: discord
    url: http://127.0.0.1:$pd/api/webhooks/1/SECRET-D
    username: walter
    avatar_url: http://example.invalid/w.png
  - type: teams
    url: http://127.0.0.1:$pt/workflows/SECRET-T
  - type: mattermost
    url: http://127.0.0.1:$pm/hooks/SECRET-M
    channel: town-square
    username: walter
    icon: ":robot_face:"
  - type: googlechat
    url: http://127.0.0.1:$pg/v1/spaces/S/messages?key=SECRET-G
pipeline:
  - name: ok
    command: echo out-line @everyone
    report_full_output: true
  - name: bad
    command: exit 3
cleanup:
  - name: clean
    command: "true"
Y
w -c chat.yml
eq exit "$rc" 1
c no-secret-logged '! grep -q SECRET err.txt'
c none-failed '! grep -q "Failed to notify" err.txt'

# discord: results as an embed with a colour, output as content, no pings
eq discord-count "$(count discord.log)" 4
eq discord-path "$(q discord.log 1 'r["method"] + " " + r["path"] + " " + H["content-type"]')" \
	"POST /api/webhooks/1/SECRET-D application/json"
eq discord-result "$(q discord.log 1 'J')" \
	'{"allowed_mentions": {"parse": []}, "avatar_url": "http://example.invalid/w.png", "embeds": [{"color": 3061894, "description": "[ok][RESULT] Succeeded"}], "username": "walter"}'
eq discord-output "$(q discord.log 2 '[J["content"], "embeds" in J, J["allowed_mentions"]]')" \
	'["[ok][STDOUT] out-line @everyone\n", false, {"parse": []}]'
eq discord-colours "$(qa discord.log 'J.get("embeds", [{}])[0].get("color")' | tr '\n' ' ')" "3061894 null 10682880 3061894 "

# teams: an Adaptive Card in a message, as Workflows take it
eq teams-count "$(count teams.log)" 4
eq teams-card "$(q teams.log 3 'J')" \
	'{"attachments": [{"content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "body": [{"color": "Attention", "text": "[bad][RESULT] Failed", "type": "TextBlock", "wrap": true}], "type": "AdaptiveCard", "version": "1.4"}, "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null}], "type": "message"}'
eq teams-output "$(q teams.log 2 'J["attachments"][0]["content"]["body"][0]')" \
	'{"fontType": "Monospace", "text": "[ok][STDOUT] out-line @everyone\n", "type": "TextBlock", "wrap": true}'
eq teams-good "$(q teams.log 1 'J["attachments"][0]["content"]["body"][0]["color"]')" Good

# mattermost: Slack's JSON, the channel's handle without '#', hex colours
eq mm-count "$(count mm.log)" 4
eq mm-result "$(q mm.log 3 'J')" \
	'{"attachments": [{"color": "#a30200", "fallback": "[bad][RESULT] Failed", "text": "[bad][RESULT] Failed"}], "channel": "town-square", "icon_emoji": ":robot_face:", "username": "walter"}'
eq mm-output "$(q mm.log 2 '[J["attachments"][0].get("color"), J["attachments"][0]["fallback"], J["attachments"][0]["text"]]')" \
	'[null, "[ok][STDOUT] out-line @everyone", "[ok][STDOUT] out-line @everyone\n"]'

# googlechat: {"text"}
eq gchat-count "$(count gchat.log)" 4
eq gchat-all "$(qa gchat.log 'J["text"]' | tr '\n' '|')" "[ok][RESULT] Succeeded|[ok][STDOUT] out-line @everyone||[bad][RESULT] Failed|[clean][RESULT] Succeeded|"
eq gchat-type "$(q gchat.log 1 'H["content-type"] + " " + r["path"]')" "application/json; charset=UTF-8 /v1/spaces/S/messages?key=SECRET-G"

# ---- summary: one message each, with the run's colour ----------------------
for f in discord teams mm gchat; do : > $f.log; done
sed 's/^    url: .*/&\n    summary: true/' chat.yml > sum.yml
w -c sum.yml
eq summary-counts "$(count discord.log) $(count teams.log) $(count mm.log) $(count gchat.log)" "1 1 1 1"
c summary-text 'q gchat.log 1 "J[\"text\"]" | grep -qE "^\[sum.yml\] Failed: 2 succeeded, 1 failed, 0 skipped, 0 aborted, 0 condition false \([0-9.]+s\); failed: bad$"'
eq summary-colours "$(q discord.log 1 'J["embeds"][0]["color"]') $(q teams.log 1 'J["attachments"][0]["content"]["body"][0]["color"]') $(q mm.log 1 'J["attachments"][0]["color"]')" \
	"10682880 Attention #a30200"

# ---- long output: cut to what each service takes, its end kept -------------
for f in discord teams mm gchat; do : > $f.log; done
cat > long.yml <<Y
notify:
  - type: discord
    url: http://127.0.0.1:$pd/d
    on: [failure]
  - type: googlechat
    url: http://127.0.0.1:$pg/g
    on: [failure]
  - type: mattermost
    url: http://127.0.0.1:$pm/m
    on: [failure]
  - type: teams
    url: http://127.0.0.1:$pt/t
    on: [failure]
build:
  tasks:
    - name: loud
      command: i=0; while [ \$i -lt 3000 ]; do echo "line \$i é"; i=\$((i+1)); done; echo LAST-LINE; exit 1
      report_full_output: true
Y
w -c long.yml
eq long-exit "$rc" 1
eq long-discord "$(q discord.log 2 '[len(J["content"].encode()) <= 2000, J["content"].startswith("[loud][STDOUT] "), "\n...\n" in J["content"], J["content"].endswith("LAST-LINE\n")]')" \
	'[true, true, true, true]'
eq long-gchat "$(q gchat.log 2 '[len(J["text"].encode()) <= 4000, J["text"].endswith("LAST-LINE\n")]')" '[true, true]'
eq long-mm "$(q mm.log 2 '[len(J["attachments"][0]["text"].encode()) <= 16000, J["attachments"][0]["text"].endswith("LAST-LINE\n")]')" '[true, true]'
eq long-teams "$(q teams.log 2 '[len(J["attachments"][0]["content"]["body"][0]["text"].encode()) <= 20000, J["attachments"][0]["content"]["body"][0]["text"].endswith("LAST-LINE\n")]')" '[true, true]'
c long-valid-utf8 '! grep -q "\\\\ufffd" discord.log gchat.log mm.log teams.log'

# ---- secrets masked in what they say ---------------------------------------
for f in discord teams mm gchat; do : > $f.log; done
cat > mask.yml <<Y
notify:
  - type: discord
    url: http://127.0.0.1:$pd/d
  - type: googlechat
    url: http://127.0.0.1:$pg/g
pipeline:
  - name: leak
    command: echo "the token is \$DEPLOY_TOKEN"
    report_full_output: true
Y
DEPLOY_TOKEN=hunter2-secret w -c mask.yml
eq mask-discord "$(q discord.log 2 '[J["content"]]')" '["[leak][STDOUT] the token is ***\n"]'
eq mask-gchat "$(q gchat.log 2 '[J["text"]]')" '["[leak][STDOUT] the token is ***\n"]'
c mask-nowhere '! grep -q hunter2 discord.log gchat.log err.txt' 

# ---- load-time checks -------------------------------------------------------
printf 'notify:\n  - type: discord\n    avatar_ur: x\n  - type: teams\n    url: ftp://x/y\n  - type: mattermost\n    url: $UNSET_HOOK_URL\npipeline:\n  - name: a\n    command: "true"\n' > bad.yml
w -c bad.yml
c check-discord-url 'has err.txt "bad.yml:2:5: a discord notifier needs \"url\""'
c check-discord-key 'has err.txt "bad.yml:3:5: warning: unknown key \"avatar_ur\" in a discord notifier (did you mean \"avatar_url\"?)"'
c check-teams-url 'has err.txt "bad.yml:4:5: the url of this teams notifier is not usable"'
c check-mm-empty 'has err.txt "bad.yml:7:10: warning: \"url\" of this mattermost notifier is empty (an unset variable?): it sends nothing"'
eq check-exit "$rc" 2
