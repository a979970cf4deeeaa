# Daily use at a terminal: NAME... and -from pick tasks (the others are
# "not selected", cleanup still runs), -list, -x.
. "$top/tests/sys/lib.sh"
xsd=$top/../shared/schemas/junit-10.xsd

cat > d2.yml <<'Y'
build:
  tasks:
    - name: version
      description: print the version
      command: echo 1.2.3; touch ran-version
    - name: tag
      command: sed 's/^/v/'; touch ran-tag
    - name: checks
      description: |
        lint and unit tests
        (second line not listed)
      parallel:
        - name: lint
          command: touch ran-lint
        - name: unit
          serial:
            - name: compile
              command: touch ran-compile
            - name: test
              command: touch ran-test
  cleanup:
    - name: tidy
      command: touch ran-tidy
deploy:
  tasks:
    - name: upload
      command: touch ran-upload
    - name: migrate
      command: touch ran-migrate; test -e migrate-ok
    - name: restart
      command: touch ran-restart
  cleanup:
    - name: notify
      command: touch ran-notify
Y
ran() { for f in "$@"; do [ -e "ran-$f" ] || return 1; done; }
notran() { for f in "$@"; do [ ! -e "ran-$f" ] || return 1; done; }

# -- one name: only that task (and the cleanup) runs
rm -f ran-*
w -c d2.yml lint -json r.json -junit r.xml
t name-runs-only-it sh -c '[ "$rc" = 0 ] && ran lint tidy && notran version tag compile test upload notify'
t name-not-selected-summary sh -c 'has err.txt "Summary: 6 tasks: 2 succeeded, 0 failed, 0 skipped, 0 aborted, 0 condition false, 4 not selected" &&
  grep -q " INFO   not selected    version$" err.txt && grep -q " INFO   succeeded       lint (" err.txt'
t name-not-selected-not-logged sh -c '! grep -q "\[version\]" err.txt && ! grep -q "\[unit\] Start task" err.txt'
t name-cleanup-runs has err.txt "[tidy] Start task"
python3 - > check.txt 2>&1 <<'PY'
import json, xml.dom.minidom as m
r = json.load(open("r.json"))
st = {t["name"]: t["status"] for t in r["tasks"]}
assert st == {"version": "not_selected", "tag": "not_selected", "lint": "success",
              "compile": "not_selected", "test": "not_selected", "tidy": "success"}, st
assert r["exit_code"] == 0 and r["status"] == "success"
assert all("start" not in t for t in r["tasks"] if t["status"] == "not_selected")
d = m.parse("r.xml")
cases = {c.getAttribute("name"): c for c in d.getElementsByTagName("testcase")}
sk = cases["version"].getElementsByTagName("skipped")
assert sk and sk[0].getAttribute("message") == "not selected"
assert not cases["lint"].getElementsByTagName("skipped")
assert d.getElementsByTagName("testsuite")[0].getAttribute("skipped") == "4"
print("reports ok")
PY
t name-reports has check.txt "reports ok"
if command -v xmllint >/dev/null && [ -f "$xsd" ]; then
	t name-junit-valid xmllint --noout --schema "$xsd" r.xml
else
	echo "skip name-junit-valid: xmllint or $xsd missing"
fi

# -- a group name selects what it holds; a group/name path selects one task
rm -f ran-*
w -c d2.yml unit
t group-name sh -c '[ "$rc" = 0 ] && ran compile test tidy && notran lint version tag && has err.txt "[checks] Start task" && has err.txt "[unit] Start task"'
rm -f ran-*
w -c d2.yml checks/unit/test
t path-name sh -c '[ "$rc" = 0 ] && ran test && notran compile lint'
rm -f ran-*
w -c d2.yml unit/test version
t path-suffix-and-two-names sh -c '[ "$rc" = 0 ] && ran test version && notran compile lint tag'
w -c d2.yml other/test
t path-wrong-group sh -c '[ "$rc" = 2 ] && has err.txt "no task \"other/test\" in d2.yml"'
# a name matches every task with that name
printf 'pipeline:\n  - name: same\n    command: echo first\n  - name: other\n    command: echo other\n  - name: same\n    command: echo second\n' > same.yml
w -c same.yml same
t name-every-match sh -c '[ "$rc" = 0 ] && has err.txt "[same] first" && has err.txt "[same] second" && ! has err.txt "[other] other"'

# -- a D1 stage with children: its name runs it and its children
printf 'pipeline:\n  - name: top\n    command: touch ran-top\n    parallel:\n      - name: kid\n        command: touch ran-kid\n  - name: later\n    command: touch ran-later\n' > d1.yml
rm -f ran-*
w -c d1.yml top
t d1-stage-name sh -c '[ "$rc" = 0 ] && ran top kid && notran later'
rm -f ran-*
w -c d1.yml kid
t d1-child-alone sh -c '[ "$rc" = 0 ] && ran kid && notran top later'

# -- unknown names: exit 2 with a did-you-mean, nothing runs
rm -f ran-*
w -c d2.yml chekcs
t unknown-name sh -c '[ "$rc" = 2 ] && has err.txt "walter: no task \"chekcs\" in d2.yml (did you mean \"checks\"?)" && notran tidy'
w -c d2.yml checks/unti/test
t unknown-path-hint sh -c '[ "$rc" = 2 ] && has err.txt "(did you mean \"checks/unit/test\"?)"'
w -c d2.yml zzzzzzzzzz
t unknown-name-no-hint sh -c '[ "$rc" = 2 ] && has err.txt "no task \"zzzzzzzzzz\" in d2.yml (-list shows them)"'
w -check -c d2.yml chekcs
t unknown-name-check [ "$rc" = 2 ]
# flags may follow names (as with make); after -- everything is a name
w -c d2.yml lint -deploy
t flag-after-name sh -c '[ "$rc" = 2 ] && has err.txt "task \"lint\" is in the build phase, which these flags do not run (add -build)"'
w -c d2.yml -- -deploy
t dashdash-name sh -c '[ "$rc" = 2 ] && has err.txt "no task \"-deploy\" in d2.yml"'

# -- names pick the phase without -build/-deploy; flags that exclude it fail
rm -f ran-*
w -c d2.yml upload
t name-picks-deploy sh -c '[ "$rc" = 0 ] && ran upload notify && notran version tidy migrate && ! has err.txt "Build started"'
w -build -c d2.yml upload
t name-outside-flags sh -c '[ "$rc" = 2 ] && has err.txt "task \"upload\" is in the deploy phase, which these flags do not run (add -deploy)"'
rm -f ran-*
w -c d2.yml tag upload
t names-two-phases sh -c '[ "$rc" = 0 ] && ran tag tidy upload notify && notran version migrate'

# -- -from: a failed deploy resumed where it stopped
rm -f ran-*
w -build -deploy -c d2.yml
t deploy-fails sh -c '[ "$rc" = 1 ] && ran upload migrate notify && notran restart'
rm -f ran-* ; touch migrate-ok
w -deploy -from migrate -c d2.yml
t from-resumes sh -c '[ "$rc" = 0 ] && ran migrate restart notify && notran upload version &&
  has err.txt "1 not selected" && grep -q "not selected    upload$" err.txt'
rm -f ran-*
w -c d2.yml -from migrate
t from-picks-phase sh -c '[ "$rc" = 0 ] && ran migrate restart && notran upload tidy'
rm -f ran-*
w -c d2.yml -from checks
t from-group sh -c '[ "$rc" = 0 ] && ran lint compile test tidy && notran version tag upload'
rm -f ran-*
w -build -deploy -c d2.yml -from test
t from-across-phases sh -c '[ "$rc" = 0 ] && ran test tidy upload migrate restart notify && notran version tag lint compile'
w -c d2.yml -from migrat
t from-unknown sh -c '[ "$rc" = 2 ] && has err.txt "walter: -from: no task \"migrat\" in d2.yml (did you mean \"migrate\"?)"'
w -c d2.yml -from tidy
t from-cleanup sh -c '[ "$rc" = 2 ] && has err.txt "\"tidy\" is a cleanup task"'
w -build -c d2.yml -from upload
t from-outside-flags sh -c '[ "$rc" = 2 ] && has err.txt "-from: task \"upload\" is in the deploy phase"'
# -plan shows what the selection leaves out
w -plan -c d2.yml -from checks
t plan-not-selected sh -c '[ "$rc" = 0 ] && grep -q "task \"version\".*  (not selected)  (d2.yml:3:7)$" out.txt && ! grep -q "task \"lint\".*(not selected)" out.txt'

# -- D2 stdin: a selected task whose input was not selected reads nothing
printf 'build:\n  tasks:\n    - name: producer\n      command: echo produced\n    - name: consumer\n      command: echo "got:$(cat)"\n' > pipe.yml
w -c pipe.yml consumer
t stdin-of-not-selected sh -c '[ "$rc" = 0 ] && has err.txt "[consumer] got:" && ! has err.txt "got:produced"'
w -c pipe.yml -from producer
t stdin-when-both-run has err.txt "[consumer] got:produced"

# -- a summary notifier counts the tasks left out
cat > sum.yml <<'Y'
pipeline:
  - name: a
    command: "true"
  - name: b
    command: "true"
notify:
  - type: exec
    summary: true
    command: cat > summary.json
Y
w -c sum.yml b
t summary-event-not-selected sh -c 'python3 -c "
import json; e = json.load(open(\"summary.json\"))
assert e[\"counts\"][\"not_selected\"] == 1 and e[\"counts\"][\"success\"] == 1, e
assert \"1 not selected\" in e[\"text\"], e[\"text\"]"'

# -- a failure among the selected tasks still skips the rest and exits 1
printf 'pipeline:\n  - name: a\n    command: exit 3\n  - name: b\n    command: touch ran-b\n  - name: c\n    command: touch ran-c\n' > f.yml
rm -f ran-*
w -c f.yml a b
t selected-failure-skips sh -c '[ "$rc" = 1 ] && notran b c && has err.txt "1 failed, 1 skipped, 0 aborted, 0 condition false, 1 not selected"'

# ---- -list -------------------------------------------------------------------
rm -f ran-*
w -list -c d2.yml
cat > want.txt <<'T'
Build
  version              print the version
  tag
  checks/lint
  checks/unit/compile
  checks/unit/test
Build cleanup
  tidy
Deploy
  upload
  migrate
  restart
Deploy cleanup
  notify
T
t list-text sh -c '[ "$rc" = 0 ] && diff want.txt out.txt && notran version tidy'
w -list -json -c d2.yml
python3 - > check.txt 2>&1 <<'PY'
import json
r = json.load(open("out.txt"))
t = {x["name"]: x for x in r["tasks"]}
assert r["format"] == "build/deploy" and r["file"] == "d2.yml"
assert t["test"]["path"] == ["checks", "unit", "test"] and t["test"]["phase"] == "build"
assert t["version"]["description"] == "print the version" and t["lint"]["description"] is None
assert t["notify"]["list"] == "cleanup" and t["notify"]["phase"] == "deploy" and t["upload"]["line"] == 26
print("list json ok")
PY
t list-json has check.txt "list json ok"
w -list -json l.json -c d2.yml
t list-json-file sh -c '[ "$rc" = 0 ] && [ ! -s out.txt ] && python3 -c "import json; json.load(open(\"l.json\"))"'
# every path -list shows is a NAME walter takes
for p in $(sed -n 's/^  \([^ ]*\).*/\1/p' want.txt); do
	"$WALTER" -plan -c d2.yml "$p" >/dev/null 2>&1 || echo "$p" >> bad-paths.txt
done
t list-paths-are-names [ ! -e bad-paths.txt ]
printf 'pipeline:\n  - name: build\n    description: compile it\n    command: make\n' > desc.yml
w -list -c desc.yml
t list-d1-description sh -c 'grep -q "^  build  compile it$" out.txt'
printf 'pipeline:\n  - name: a\n    description: [not, text]\n' > baddesc.yml
w -c baddesc.yml
t description-type-error sh -c '[ "$rc" = 2 ] && has err.txt "baddesc.yml:3:18: \"description\" must be a string"'

# ---- -x -----------------------------------------------------------------------
cat > x.yml <<'Y'
pipeline:
  - name: build
    command: make -j4 || true
  - name: multi
    only_if: test -n "$HOME"
    command: |
      echo one
      echo two
  - name: argv
    command: [echo, "it's", plain, "a b"]
Y
MY_TOKEN=tok-sekrit "$WALTER" -x -c x.yml >out.txt 2>err.txt
t x-command has err.txt " INFO [build] + make -j4 || true"
t x-multiline sh -c 'has err.txt "[multi] + echo one" && has err.txt "[multi] + echo two" && has err.txt "[multi] only_if + test -n \"\$HOME\""'
t x-argv-quoted has err.txt "[argv] + echo 'it'\\''s' plain 'a b'"
t x-before-output sh -c '[ "$(grep -n "\[multi\] + echo one" err.txt | cut -d: -f1)" -lt "$(grep -n "\[multi\] one$" err.txt | cut -d: -f1)" ]'
w -c x.yml
t x-off-by-default sh -c '! grep -q "] + " err.txt'
w -threshold DEBUG -c x.yml
t x-at-debug has err.txt "DEBUG [build] + make -j4 || true"
printf 'pipeline:\n  - name: s\n    command: echo hidden $API_TOKEN; echo "s3cr3t-value-x"\n' > xs.yml
API_TOKEN=s3cr3t-value-x "$WALTER" -x -c xs.yml >out.txt 2>err.txt
t x-masked sh -c 'has err.txt "[s] + echo hidden \$API_TOKEN; echo \"***\"" && ! grep -q s3cr3t-value-x err.txt'

# -- -json with no file (last, or before another flag) is -json -: stdout
w -c same.yml other -json
t json-stdout-last sh -c '[ "$rc" = 0 ] && python3 -c "
import json; r = json.load(open(\"out.txt\"))
assert [t[\"status\"] for t in r[\"tasks\"]] == [\"not_selected\", \"success\", \"not_selected\"], r"'
w -c same.yml -json -x other
t json-stdout-before-flag sh -c '[ "$rc" = 0 ] && python3 -c "import json; json.load(open(\"out.txt\"))" && has err.txt "[other] + echo other"'
w -c same.yml -json r3.json other
t json-file-still sh -c '[ "$rc" = 0 ] && [ ! -s out.txt ] && python3 -c "import json; json.load(open(\"r3.json\"))"'
# a 100 KB command line is logged cut at 64 KiB, and still runs whole
python3 -c 'print("pipeline:\n  - name: long\n    command: test " + "x" * 50000 + " = " + "x" * 50000 + " && echo same")' > long.yml
w -x -c long.yml
t x-long-command-cut sh -c '[ "$rc" = 0 ] && has err.txt "[long] same" && [ "$(grep "\[long\] + test" err.txt | wc -c)" -lt 70000 ]'
