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
assert r["status"] == "failed" and r["exit_code"] == 1 and r["format"] == "pipeline", r
assert t["ok"]["status"] == "succeeded" and t["ok"]["exit_code"] == 0
assert t["bad <&>"]["status"] == "failed" and t["bad <&>"]["exit_code"] == 3
assert t["bad <&>"]["last_lines"] == ["why it broke"]
assert t["later"]["status"] == "skipped" and t["clean"]["list"] == "cleanup"
assert r["notifiers"] == [], r["notifiers"]
d = m.parse("r.xml")
s = d.getElementsByTagName("testsuite")[0]
assert s.getAttribute("tests") == "4" and s.getAttribute("failures") == "1" and s.getAttribute("skipped") == "1"
cases = {c.getAttribute("name"): c for c in d.getElementsByTagName("testcase")}
f = cases["bad <&>"].getElementsByTagName("failure")[0]
assert f.getAttribute("message") == "exit status 3" and "why it broke" in f.firstChild.data
assert cases["later"].getElementsByTagName("skipped")
print("reports ok")
PY
t reports-content has check.txt "reports ok"
w -c f.yml -json /nonexistent/dir/r.json
t report-unwritable sh -c '[ "$rc" = 1 ] && has err.txt "cannot write /nonexistent/dir/r.json"'

# -plan names each notifier and its settings, never their values
printf 'pipeline:\n  - name: a\n    command: "true"\nnotify:\n  - type: webhook\n    url: http://127.0.0.1:9/s3cr3t-path\nmessenger:\n  type: fake\n' > pn.yml
w -plan -c pn.yml
t plan-notifiers sh -c 'grep -q "^Notify$" out.txt && grep -q "^  webhook \[url\]  (pn.yml:5:5)$" out.txt && grep -q "^  fake  (pn.yml:8:3)$" out.txt && ! grep -q s3cr3t out.txt'
w -c pn.yml -json pn.json
t json-notifiers sh -c 'python3 -c "import json; n = json.load(open(\"pn.json\"))[\"notifiers\"]; assert [(x[\"type\"], x[\"line\"]) for x in n] == [(\"webhook\", 5), (\"fake\", 8)], n"'
