# -plan, -json, -junit.
. "$top/tests/sys/lib.sh"

cp "$top/examples/d2.yml" d2.yml
w -plan -c d2.yml
t plan-exit0 [ "$rc" = 0 ]
t plan-tree sh -c 'grep -q "^    parallel \"checks\"  (d2.yml:11:9)$" out.txt && grep -q "^        task \"test\": sh -c echo tested  \[stdin from \"compile\"\]" out.txt'
t plan-deploy-not-run has out.txt "Deploy (not run with these flags)"
t plan-runs-nothing sh -c '! grep -q "Start task" err.txt'

cat > f.yml <<'Y'
pipeline:
  - name: ok
    command: echo fine
  - name: bad <&>
    command: echo "why it broke"; exit 3
  - name: later
    command: "true"
cleanup:
  - name: clean
    command: "true"
Y
w -c f.yml -json r.json -junit r.xml
t reports-exit1 [ "$rc" = 1 ]
python3 - > check.txt 2>&1 <<'PY'
import json, xml.dom.minidom as m
r = json.load(open("r.json"))
t = {x["name"]: x for x in r["tasks"]}
assert r["status"] == "failure" and r["exit_code"] == 1 and r["format"] == "pipeline", r
assert t["ok"]["status"] == "success" and t["ok"]["exit_code"] == 0
assert t["bad <&>"]["status"] == "failure" and t["bad <&>"]["exit_code"] == 3
assert t["bad <&>"]["last_lines"] == ["why it broke"]
assert t["later"]["status"] == "skipped" and t["clean"]["cleanup"] is True
assert r["notifiers"] == [], r["notifiers"]
d = m.parse("r.xml")
s = d.getElementsByTagName("testsuite")[0]
assert s.getAttribute("tests") == "4" and s.getAttribute("failures") == "1" and s.getAttribute("skipped") == "1"
assert s.getAttribute("errors") == "0"
cases = {c.getAttribute("name"): c for c in d.getElementsByTagName("testcase")}
f = cases["bad <&>"].getElementsByTagName("failure")[0]
assert f.getAttribute("message") == "exit status 3" and "why it broke" in f.firstChild.data
assert cases["later"].getElementsByTagName("skipped")
print("reports ok")
PY
t reports-content has check.txt "reports ok"

# xsd FILE: valid against Jenkins' xunit schema (also checked for every
# JUnit file of the suite by tests/run.sh)
xsd=$top/../shared/schemas/junit-10.xsd
xsd() { xmllint --noout --schema "$xsd" "$1" 2>>xsd.err; }

# -- the -json report speaks the event's language: the five status
# words, lowercase phases, start/end as RFC 3339 UTC with milliseconds
# for the run and each task, a reason, a version
cat > v.yml <<'Y'
build:
  tasks:
    - name: fine
      command: "true"
    - name: cond
      only_if: "false"
      command: "true"
    - name: both
      parallel:
        - name: quick-fail
          command: exit 4
        - name: slow
          command: sleep 30
    - name: never
      command: "true"
  cleanup:
    - name: tidy
      command: "true"
deploy:
  tasks:
    - name: ship
      command: "true"
Y
w -c v.yml -build -deploy -json v.json -junit v.xml
t json-vocabulary-exit [ "$rc" = 1 ]
python3 - "$(sed -n 's/^#define WALTER_VERSION "\(.*\)"$/\1/p' "$top/walter.c")" > check.txt 2>&1 <<'PY'
import json, re, sys
r = json.load(open("v.json"))
ts = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
assert r["version"] == sys.argv[1] and r["status"] == "failure" and r["exit_code"] == 1, r
assert ts.match(r["start"]) and ts.match(r["end"]) and r["start"] <= r["end"], r
assert r["reason"] == '"quick-fail" failed: exit status 4', r["reason"]
assert r["counts"] == {"success": 2, "failure": 1, "skipped": 2, "aborted": 1, "condition_false": 1}, r["counts"]
t = {x["name"]: x for x in r["tasks"]}
want = {"fine": "success", "cond": "condition_false", "quick-fail": "failure", "slow": "aborted",
        "never": "skipped", "tidy": "success", "ship": "skipped"}
assert {k: v["status"] for k, v in t.items()} == want, t
assert {v["phase"] for v in t.values()} == {"build", "deploy"}
assert t["tidy"]["cleanup"] is True and t["fine"]["cleanup"] is False
assert t["quick-fail"]["path"] == ["both", "quick-fail"], t["quick-fail"]
for k in ("fine", "cond", "quick-fail", "slow", "never", "tidy"):
    assert ts.match(t[k]["start"]) and ts.match(t[k]["end"]), t[k]
    assert t[k]["start"] >= r["start"] and t[k]["end"] <= r["end"], t[k]
assert "start" not in t["ship"] and t["ship"]["reason"] == "not run", t["ship"]
assert t["slow"]["reason"] == '"quick-fail" failed', t["slow"]
assert t["never"]["reason"] == '"quick-fail" failed', t["never"]
assert t["cond"]["reason"] == "only_if failed: exit status 1" and t["cond"]["exit_code"] is None
assert t["quick-fail"]["reason"] == "exit status 4" and t["quick-fail"]["exit_code"] == 4
assert "reason" not in t["fine"] and t["fine"]["attempts"] == 1
print("vocabulary ok")
PY
t json-vocabulary has check.txt "vocabulary ok"
python3 - > check.txt 2>&1 <<'PY'
import xml.dom.minidom as m
d = m.parse("v.xml")
c = {x.getAttribute("name"): x for x in d.getElementsByTagName("testcase")}
def kind(x):
    for k in ("failure", "skipped", "error"):
        e = x.getElementsByTagName(k)
        if e:
            return k, e[0].getAttribute("message")
    return "ok", ""
got = {k: kind(v) for k, v in c.items()}
assert got == {"fine": ("ok", ""), "cond": ("skipped", "only_if failed: exit status 1"),
               "quick-fail": ("failure", "exit status 4"),
               "slow": ("failure", 'aborted: "quick-fail" failed'),
               "never": ("skipped", '"quick-fail" failed'), "tidy": ("ok", "")}, got
s = d.getElementsByTagName("testsuite")[0]
assert (s.getAttribute("tests"), s.getAttribute("failures"), s.getAttribute("skipped")) == ("6", "2", "2")
assert c["tidy"].getAttribute("classname") == "build.cleanup"
print("junit honest")
PY
t junit-aborted-is-a-failure has check.txt "junit honest"
t junit-vocabulary-valid xsd v.xml

# a task's timeout, a wait_for that gives up, tasks aborted by -timeout:
# failures with their reason, never a green build
port=$(free_port)
cat > to.yml <<Y
pipeline:
  - name: slowpoke
    command: sleep 30
    timeout: 0.3
  - name: waiting
    wait_for: {host: 127.0.0.1, port: $port, state: ready, timeout: 0.3}
    command: "true"
  - name: group
    parallel:
      - name: stuck
        command: sleep 30
      - name: stuck too
        command: sleep 30
Y
w -f -c to.yml -timeout 2 -json to.json -junit to.xml
t timeouts-exit124 [ "$rc" = 124 ]
python3 - > check.txt 2>&1 <<'PY'
import json, xml.dom.minidom as m
d = m.parse("to.xml")
c = {x.getAttribute("name"): x.getElementsByTagName("failure") for x in d.getElementsByTagName("testcase")}
msg = {k: v[0].getAttribute("message") if v else None for k, v in c.items()}
assert msg == {"group": None, "slowpoke": "timed out after 0.3s", "waiting": "wait_for timed out after 0.3s",
               "stuck": "aborted: the run took longer than -timeout 2s",
               "stuck too": "aborted: the run took longer than -timeout 2s"}, msg
assert d.getElementsByTagName("testsuite")[0].getAttribute("failures") == "4"
r = json.load(open("to.json"))
assert r["status"] == "aborted" and r["reason"] == "the run took longer than -timeout 2s", r
print("timeouts are failures")
PY
t junit-timeouts-are-failures has check.txt "timeouts are failures"
t junit-timeouts-valid xsd to.xml

# hostile output: invalid UTF-8, control characters, ]]>, ANSI escapes,
# U+FFFE/U+FFFF, a character cut at the 200-byte mark, a 10 MB line
cat > hostile.yml <<'Y'
pipeline:
  - name: "hostile ]]> <&> \x01"
    command: |
      head -c 10485760 /dev/zero | tr '\0' y; echo
      printf 'caf\351 \001\002\003\013\014\033[31mred\033[0m ]]> <![CDATA[ x ]]> \357\277\276 \357\277\277 \355\240\200\n'
      printf '%199s\303\251 cut here\n' '' | tr ' ' x
      printf 'last \342\202'
      exit 9
Y
w -c hostile.yml -json h.json -junit h.xml
t hostile-exit1 [ "$rc" = 1 ]
t hostile-junit-valid xsd h.xml
python3 - > check.txt 2>&1 <<'PY'
import json
r = json.load(open("h.json", encoding="utf-8"))
ll = r["tasks"][0]["last_lines"]
assert ll[-1] == "last \ufffd\ufffd" and ll[-2] == "x" * 199 and ll[-3].startswith("caf\ufffd "), ll[-3:]
assert "y" * 200 in ll, ll
x = open("h.xml", encoding="utf-8").read()
assert "x" * 199 + "\n" in x and "caf\ufffd" in x and "\x01" not in x and "\x1b" not in x
print("hostile ok")
PY
t hostile-reports-readable has check.txt "hostile ok"

# a report that cannot be written is a usage error before anything runs
printf 'pipeline:\n  - name: a\n    command: touch ran\n' > ran.yml
rm -f ran
w -c ran.yml -json /nonexistent/dir/r.json
t report-unwritable-json sh -c '[ "$rc" = 2 ] && has err.txt "cannot write /nonexistent/dir/r.json" && [ ! -e ran ]'
w -c ran.yml -junit /nonexistent/dir/r.xml
t report-unwritable-junit sh -c '[ "$rc" = 2 ] && has err.txt "cannot write /nonexistent/dir/r.xml" && [ ! -e ran ]'
# ...and a write that fails at the end is an ERROR and exit status 1
w -c ran.yml -junit /dev/full
t report-write-fails-at-end sh -c '[ "$rc" = 1 ] && [ -e ran ] && has err.txt "ERROR cannot write /dev/full"'

# a configuration error still writes both reports, saying why
printf 'pipeline:\n  - name: a\n    command: [echo, ok]\n    retry: lots\n' > bad.yml
w -c bad.yml -json bad.json -junit bad.xml
t config-error-exit2 [ "$rc" = 2 ]
python3 - > check.txt 2>&1 <<'PY'
import json, xml.dom.minidom as m
msg = 'bad.yml:4:12: "retry" must be a whole number from 0 to 1000'
r = json.load(open("bad.json"))
assert r["status"] == "failure" and r["exit_code"] == 2 and r["errors"] == [msg] and r["tasks"] == [], r
assert r["reason"] == "configuration error: " + msg
d = m.parse("bad.xml")
c = d.getElementsByTagName("testcase")
e = c[0].getElementsByTagName("error")
assert len(c) == 1 and c[0].getAttribute("name") == "bad.yml" and e[0].getAttribute("message") == msg
assert d.getElementsByTagName("testsuite")[0].getAttribute("errors") == "1"
print("config error reported")
PY
t config-error-reports has check.txt "config error reported"
t config-error-junit-valid xsd bad.xml
w -c missing.yml -junit miss.xml
t config-missing-file-junit sh -c '[ "$rc" = 2 ] && xsd miss.xml && grep -q "message=\"missing.yml: No such file or directory\"" miss.xml'
printf 'build:\n  tasks:\n    - name: a\n      command: "true"\n' > nodeploy.yml
w -c nodeploy.yml -deploy -junit nd.xml
t config-fatal-after-load-junit sh -c '[ "$rc" = 2 ] && xsd nd.xml && grep -q "nodeploy.yml has no deploy section" nd.xml'

# -plan names each notifier and its settings, never their values
printf 'pipeline:\n  - name: a\n    command: "true"\nnotify:\n  - type: webhook\n    url: http://127.0.0.1:9/s3cr3t-path\nmessenger:\n  type: fake\n' > pn.yml
w -plan -c pn.yml
t plan-notifiers sh -c 'grep -q "^Notify$" out.txt && grep -q "^  webhook \[url\]  (pn.yml:5:5)$" out.txt && grep -q "^  fake  (pn.yml:8:3)$" out.txt && ! grep -q s3cr3t out.txt'
w -c pn.yml -json pn.json
t json-notifiers sh -c 'python3 -c "import json; n = json.load(open(\"pn.json\"))[\"notifiers\"]; assert [(x[\"type\"], x[\"line\"]) for x in n] == [(\"webhook\", 5), (\"fake\", 8)], n"'
