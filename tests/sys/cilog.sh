# CI-native logs: GitHub Actions groups and error annotations, GitLab
# collapsible sections; -ci none (and no CI) is the plain log, byte for
# byte the golden one.
. "$top/tests/sys/lib.sh"

cat > ci.yml <<'Y'
pipeline:
  - name: "build: x, y"
    command: echo compiling; echo "100% done"
  - name: checks
    parallel:
      - name: lint
        command: echo lint ok
      - name: unit
        command: echo unit ok
  - name: group
    command: echo own
    parallel:
      - name: only child
        command: echo alone
  - name: "bad,one: 50%"
    command: printf 'first\nsecond 100%%\r\n::warning::not a command\n'; exit 3
cleanup:
  - name: clean
    command: echo tidy
Y

# ---- GitHub Actions --------------------------------------------------------------
GITHUB_ACTIONS=true "$WALTER" -c ci.yml >out.txt 2>err.txt; rc=$?
mask < err.txt > gh.txt
cat > want-gh.txt <<'T'
HH:MM:SS  INFO Pipeline started
::group::build: x, y
HH:MM:SS  INFO [build: x, y] Start task
HH:MM:SS  INFO [build: x, y] compiling
HH:MM:SS  INFO [build: x, y] 100% done
::endgroup::
HH:MM:SS  INFO [build: x, y] End task (Ns)
T
t gh-exit [ "$rc" = 1 ]
t gh-group sh -c 'head -7 gh.txt | diff want-gh.txt -'
# parallel tasks keep their prefixed lines, outside any group
t gh-parallel-not-grouped sh -c 'grep -B1 "INFO \[lint\] Start task" gh.txt | head -1 | grep -qv "::group::" &&
  [ "$(grep -c "^::group::lint\|^::group::unit" gh.txt)" = 0 ]'
# a stage with one child runs alone: its own command and the child are grouped
t gh-single-child-grouped sh -c 'grep -q "^::group::group$" gh.txt && grep -q "^::group::only child$" gh.txt'
t gh-groups-balanced sh -c '[ "$(grep -c "^::group::" gh.txt)" = "$(grep -c "^::endgroup::" gh.txt)" ]'
# one annotation per failed task, title and message escaped
t gh-error-line has gh.txt '::error title=bad%2Cone%3A 50%25::exit status 3%0Afirst%0Asecond 100%25%0D%0A::warning::not a command'
t gh-error-once [ "$(grep -c '^::error' gh.txt)" = 1 ]
t gh-error-after-failure sh -c 'grep -A1 "ERROR \[bad,one: 50%\] Task failed" gh.txt | tail -1 | grep -q "^::error"'
# a task's own output can never start a workflow command: lines begin with the clock
t gh-output-prefixed sh -c '[ "$(grep -c "^::" gh.txt)" = "$(grep -cE "^::(group|endgroup|error)" gh.txt)" ]'
"$WALTER" -ci github -c ci.yml 2>err2.txt
t gh-flag sh -c '[ "$(grep "^::" err2.txt)" = "$(grep "^::" gh.txt)" ]'

# secrets are masked in groups and annotations
printf 'pipeline:\n  - name: "deploy s3cr3t-name"\n    command: echo "$API_TOKEN"; exit 1\n' > sec.yml
API_TOKEN=s3cr3t-name "$WALTER" -ci github -c sec.yml 2>err.txt
t gh-masked sh -c 'grep -q "^::group::deploy \*\*\*$" err.txt && grep -q "^::error title=deploy \*\*\*::exit status 1%0A\*\*\*$" err.txt && ! grep "^::" err.txt | grep -q s3cr3t'
# a reason walter knows is the message
printf 'pipeline:\n  - name: to\n    timeout: 0.2\n    command: sleep 5\n' > to.yml
"$WALTER" -ci github -c to.yml 2>err.txt
t gh-reason has err.txt "::error title=to::timed out after 0.2s"
# with -jobs 1 every task runs alone: parallel ones are grouped too
"$WALTER" -ci github -jobs 1 -c ci.yml 2>err.txt
t gh-jobs1-grouped sh -c 'grep -q "^::group::lint$" err.txt && grep -q "^::group::unit$" err.txt'
# nothing is grouped when INFO lines are not shown
"$WALTER" -ci github -threshold WARN -c ci.yml 2>err.txt
t gh-threshold sh -c '! grep -q "::group::" err.txt && grep -q "^::error title=" err.txt'
# groups and annotations go to the -logDir file too
mkdir -p logs
"$WALTER" -ci github -logDir logs -c ci.yml 2>err.txt
t gh-logdir sh -c 'cmp err.txt logs/walter-*.log'

# ---- GitLab CI ------------------------------------------------------------------------
GITLAB_CI=true "$WALTER" -c ci.yml >out.txt 2>gl.txt; rc=$?
python3 - > check.txt 2>&1 <<'PY'
import re
t = open("gl.txt", "rb").read()
starts = re.findall(rb"\x1b\[0Ksection_start:(\d+):(walter_task_\d+)\[collapsed=true\]\r\x1b\[0K(\d\d:\d\d:\d\d  INFO \[([^\]]*)\] Start task)\n", t)
ends = re.findall(rb"\x1b\[0Ksection_end:(\d+):(walter_task_\d+)\r\x1b\[0K(\d\d:\d\d:\d\d +\w+ \[([^\]]*)\] (End task|Task failed)[^\n]*)\n", t)
names = [s[3] for s in starts]
assert names == [b"build: x, y", b"group", b"only child", b"bad,one: 50%", b"clean"], names
assert [s[1] for s in starts] == [e[1] for e in ends], (starts, ends)
assert len(set(s[1] for s in starts)) == len(starts)
assert all(int(e[0]) >= int(s[0]) > 1600000000 for s, e in zip(starts, ends))
assert b"::group::" not in t and b"::error" not in t
# outside the markers, the log is the plain one
plain = re.sub(rb"\x1b\[0Ksection_(start|end):[^\r]*\r\x1b\[0K", b"", t)
assert plain.count(b"\n") == t.count(b"\n")
print("gitlab ok")
PY
t gl-sections sh -c '[ "$rc" = 1 ] && has check.txt "gitlab ok"'
"$WALTER" -ci gitlab -c ci.yml 2>gl2.txt
t gl-flag sh -c '[ "$(grep -ac section_start gl2.txt)" = 5 ] && [ "$(grep -ac section_end gl2.txt)" = 5 ]'

# ---- no CI: the plain log, byte for byte ------------------------------------------
gm() { sed -E 's/^[0-9]{2}:[0-9]{2}:[0-9]{2} /HH:MM:SS /; s/\(([0-9]+\.[0-9]{2}|[0-9]+m[0-9]{2})s\)/(Ns)/g'; }
cp "$top/tests/golden/seed.yml" seed.yml
sed '$d' "$top/tests/golden/seed.log" > want-seed.log
for how in "GITHUB_ACTIONS=true GITLAB_CI=true:-ci none" "GITHUB_ACTIONS=false GITLAB_CI=1:" "X=1:-ci none"; do
	envs=${how%%:*} flag=${how#*:}
	# shellcheck disable=SC2086 # both are lists on purpose
	env -i PATH="$PATH" HOME="$PWD" LC_ALL=C $envs "$WALTER" -c seed.yml -jobs 1 $flag 2>&1 </dev/null | gm > plain.log
	cmp -s want-seed.log plain.log || echo "$how" >> plain-differs.txt
done
t plain-log-byte-for-byte [ ! -e plain-differs.txt ]
w -ci travis -c ci.yml
t ci-bad-value sh -c '[ "$rc" = 2 ] && has err.txt "invalid -ci travis (auto, github, gitlab, none)"'
