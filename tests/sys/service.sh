# tests/sys/service.sh - -mode service against tests/fake_api.py and a
# bare git origin with refs/pull/N/head: pending then the result on the
# right SHA, a second poll that does nothing, a force-pushed pull request
# built again on its new SHA, forks, a closed pull request forgotten, 120
# pull requests over two pages, a 429 with Retry-After, a rate limit too
# far away, a held lock, a crashed poll, a Link to a foreign host, git
# failures, a signal during a build, HTTPS through curl and stunnel, the
# service block's checks, and the token: never in an argv (every git and
# curl walter starts, and the builds' walter), the log or the state file.
. "$top/tests/sys/lib.sh"
# The builds are walter run again from its own file (/proc/self/exe):
# under test-cross without binfmt_misc the kernel cannot execute it (each
# build then fails with "Exec format error", as it should).
if [ -n "$WALTER_EMU" ] && ! "$WALTER_BIN" -version >/dev/null 2>&1; then
	echo "skip all: the builds exec walter's own file, which this kernel cannot run without binfmt_misc"
	exit 0
fi
. "$top/tests/sys/notify.lib"
. "$top/tests/sys/forge.lib"
unset GITHUB_TOKEN GITHUB_REPOSITORY GITHUB_SHA GIT_COMMIT

TOKEN=ghs_SVC_T0K3N
export BUILT=$PWD/built.txt ARGV=$PWD/walter-argv.txt STATE=$PWD/state.json
# A pipeline file as each commit holds it: records the SHA it runs on,
# its MARK, and the command line of the walter that runs it.
pipe() {
	cat <<Y
service:
  type: github
  api_url: \$API
  from: o
  repo: r
  update: \$STATE
pipeline:
  - name: build
    command: echo "\$(git rev-parse HEAD) $1" >> "\$BUILT"; tr '\\0' ' ' < /proc/\$PPID/cmdline >> "\$ARGV"; echo >> "\$ARGV"; $2
Y
}
pipe trunk > trunk.yml
pipe pr1 > pr1.yml
pipe pr2 "exit 1" > pr2.yml
pipe pr3 > pr3.yml
pipe pr1b > pr1b.yml
{ pipe pr5; printf '    timeout: soon\n'; } > pr5.yml
trunk=$(git_origin origin.git pipeline.yml trunk.yml)
pr1=$(git_pr origin.git 1 "$trunk" pipeline.yml pr1.yml)
pr2=$(git_pr origin.git 2 "$trunk" pipeline.yml pr2.yml)
pr3=$(git_pr origin.git 3 "$trunk" pipeline.yml pr3.yml)
pr5=$(git_pr origin.git 5 "$trunk" pipeline.yml pr5.yml)
git_work origin.git work

# conf KEY=JSON...: the fake API's config, o/r's pulls given as
# "N:SHA:BRANCH[:fork]" words in $PULLS.
conf() {
	python3 - <<'PY' | json_set "$@" > api.json.tmp && mv api.json.tmp api.json
import json, os, sys
pulls = []
for w in os.environ.get("PULLS", "").split():
    f = w.split(":")
    pulls.append({"number": int(f[0]), "sha": f[1], "ref": f[2], "fork": len(f) > 3})
c = {"github": {"prefix": "/api/v3", "token": os.environ["TOKEN"],
                "repos": {"o/r": {"id": 7, "branches": {"master": os.environ["trunk"]},
                                  "pulls": pulls}}}}
print(json.dumps(c))
PY
}
export TOKEN trunk
PULLS="1:$pr1:feature/1 2:$pr2:feature/2 3:$pr3:feature/3:fork 5:$pr5:feature/5"
export PULLS
conf
api_start gh api.json
export API=$api/api/v3
spy spybin git curl
SPY="PATH=$PWD/spybin:$PATH"

# ws VAR=VALUE... ARGS: walter -mode service in ./work with the token in
# the environment; out.txt, err.txt, $rc here; $took its time in ms.
ws() {
	_a=
	while [ $# -gt 0 ] && [ "${1#*=}" != "$1" ] && [ "${1#-}" = "$1" ]; do _a="$_a $1"; shift; done
	_t0=$(ms)
	# shellcheck disable=SC2086
	(cd work && exec env GITHUB_TOKEN=$TOKEN $_a "$WALTER" -mode service "$@" >../out.txt 2>../err.txt </dev/null)
	rc=$?
	took=$(( $(ms) - _t0 ))
}
# posts: "SHORT-SHA STATE" of each status posted, in order
posts() { qa gh.log 'r["path"].rsplit("/", 1)[1][:7] + " " + J["state"] if r["method"] == "POST" else ""' | grep . | tr '\n' '|'; }
s7() { echo "$1" | cut -c1-7; }

# ---- the first poll: the trunk and three pull requests ---------------------
# shellcheck disable=SC2086
ws $SPY
eq first-exit "$rc" 1
eq first-built "$(cat built.txt)" "$trunk trunk
$pr1 pr1
$pr2 pr2"
eq first-statuses "$(posts)" "$(s7 $trunk) pending|$(s7 $trunk) success|$(s7 $pr1) pending|$(s7 $pr1) success|$(s7 $pr2) pending|$(s7 $pr2) failure|$(s7 $pr5) pending|$(s7 $pr5) error|"
eq first-context "$(qa gh.log 'J["context"] if J else ""' | grep . | sort -u)" "continuous-integraion/walter"
eq first-descriptions "$(qa gh.log 'J["description"] if J else ""' | grep . | sed -E 's/\([0-9.]+s\)/(Ns)/' | sort -u | tr '\n' '|')" \
	"Running pipeline.yml|pipeline.yml does not load (configuration error)|pipeline.yml failed (Ns)|pipeline.yml succeeded (Ns)|"
eq first-gets "$(qa gh.log 'r["method"] + " " + r["path"] + " " + H["accept"]' | grep ^GET)" \
	"GET /api/v3/repos/o/r/commits/master application/vnd.github.sha
GET /api/v3/repos/o/r/pulls?state=open&per_page=100 application/vnd.github+json"
eq first-headers "$(qa gh.log '[H["authorization"], H["x-github-api-version"], H["user-agent"]]' | sort -u)" \
	"[\"Bearer $TOKEN\", \"2022-11-28\", \"walter/2.1.0\"]"
c first-fork-not-built 'has err.txt "pull request #3 comes from a fork (contributor3/r): not built" && ! grep -q "$pr3" built.txt'
c first-config-error-logged 'has err.txt "pull request #5 at $(s7 $pr5): pipeline.yml does not load (configuration error)" && has err.txt "pipeline.yml:10:14: \"timeout\" must be a duration"'
eq first-head-back "$(git -C work symbolic-ref HEAD) $(git -C work rev-parse HEAD)" "refs/heads/master $trunk"
eq first-refs "$(git -C work for-each-ref --format='%(refname) %(objectname)' refs/walter refs/remotes/origin/master | tr '\n' '|')" \
	"refs/remotes/origin/master $trunk|refs/walter/pr/1 $pr1|refs/walter/pr/2 $pr2|refs/walter/pr/5 $pr5|"
eq first-state "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["walter"], s["status"], s["succeeded"], s["trunk"], sorted((k, v["sha"][:7], v["status"]) for k, v in s["pulls"].items()))' state.json)" \
	"2 finished False {'branch': 'master', 'sha': '$trunk'} [('1', '$(s7 $pr1)', 'success'), ('2', '$(s7 $pr2)', 'failure'), ('5', '$(s7 $pr5)', 'error')]"
c first-state-time 'grep -qE "\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\"" state.json'
c first-lock-file 'grep -qE "^[0-9]+$" state.json.lock'
eq first-builds-argv "$(sort -u walter-argv.txt)" "$WALTER -mode local -c pipeline.yml "
c first-git-argv 'grep -q "spybin/git fetch -q --no-tags origin +refs/pull/1/head:refs/walter/pr/1 $" spybin/argv.log &&
	grep -q "spybin/git checkout -q --detach -f $pr2 $" spybin/argv.log && grep -q "spybin/git checkout -q -f master $" spybin/argv.log'
# git, run for the service: the normal scheduling policy, walter's own
# (no policy is set or reset on the way)
c first-git-normal-policy 'grep -q "^git 0$" spybin/policy.log && ! grep -v " 0$" spybin/policy.log'
c first-token-nowhere '! grep -q "$TOKEN" spybin/argv.log walter-argv.txt err.txt out.txt state.json state.json.lock'

# ---- a second poll: nothing new, nothing done --------------------------------
: > gh.log
cp built.txt built.before
ws
eq second-exit "$rc" 0
eq second-only-gets "$(qa gh.log 'r["method"]' | tr '\n' ' ')" "GET GET "
c second-nothing-built 'cmp -s built.txt built.before'
c second-says 'has err.txt "INFO [service] nothing new (trunk master at $(s7 $trunk), 4 open pull requests)"'

# ---- a force-push: pull request 1 built again on its new SHA; 2 closed ------
pr1b=$(git_pr origin.git 1 "$pr2" pipeline.yml pr1b.yml)
PULLS="1:$pr1b:feature/1 3:$pr3:feature/3:fork 5:$pr5:feature/5"
conf
: > gh.log
ws
eq force-exit "$rc" 0
eq force-built "$(tail -1 built.txt)" "$pr1b pr1b"
eq force-statuses "$(posts)" "$(s7 $pr1b) pending|$(s7 $pr1b) success|"
eq force-state "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sorted((k, v["sha"][:7]) for k, v in s["pulls"].items()), s["succeeded"])' state.json)" \
	"[('1', '$(s7 $pr1b)'), ('5', '$(s7 $pr5)')] True"

# ---- forks: true builds pull requests from forks -----------------------------
sed 's/^  type: github/&\n  forks: true/' trunk.yml > forks.yml
: > gh.log
ws -f -jobs=2 -threshold INFO -c ../forks.yml
eq forks-built "$rc $(tail -1 built.txt) $(posts)" "0 $pr3 trunk $(s7 $pr3) pending|$(s7 $pr3) success|"
eq flags-passed-on "$(tail -1 walter-argv.txt)" "$WALTER -mode local -c ../forks.yml -f -jobs=2 -threshold INFO "

# ---- a crashed poll (state inprogress, lock free) is noticed -----------------
sed -i 's/"status":"finished"/"status":"inprogress"/' state.json
ws
c crash-warned '[ $rc = 0 ] && has err.txt "WARN [service] the last poll did not finish (its state says inprogress and its lock is free): it crashed or was killed" &&
	grep -q "\"status\":\"finished\"" state.json'

# ---- a held lock: exit 2 naming the holder's pid ------------------------------
pw=$(git_pr origin.git 6 "$trunk" pipeline.yml trunk.yml)
printf 'service:\n  type: github\n  api_url: $API\n  from: o\n  repo: r\n  update: $STATE\npipeline:\n  - name: wait\n    command: touch "$READY"; while [ ! -e "$GO" ]; do sleep 0.05; done\n' > wait.yml
PULLS="$PULLS 6:$pw:feature/6"
conf
export READY=$PWD/ready GO=$PWD/go
rm -f ready go
(cd work && exec env GITHUB_TOKEN=$TOKEN "$WALTER" -mode service -timeout 60 -c ../wait.yml >../out1.txt 2>../err1.txt </dev/null) &
holder=$!
wait_file ready 2000
ws -c ../wait.yml
eq lock-held "$rc $(grep -c 'nothing done this time' err.txt)" "2 1"
c lock-names-holder 'has err.txt "ERROR [service] another poll (pid $holder) holds $STATE.lock: nothing done this time"'
touch go
wait $holder; hrc=$?
eq lock-holder-finished "$hrc $(grep -c "$pw" built.txt)" "0 0"
c lock-holder-built 'has err1.txt "pull request #6 at $(s7 $pw): ../wait.yml succeeded"'

# ---- a signal during a build: passed on, error status, HEAD back, unlocked ---
p7=$(git_pr origin.git 7 "$trunk" pipeline.yml trunk.yml)
PULLS="$PULLS 7:$p7:feature/7"
conf
rm -f ready go
: > gh.log
(cd work && exec env GITHUB_TOKEN=$TOKEN "$WALTER" -mode service -c ../wait.yml >../out1.txt 2>../err1.txt </dev/null) &
wpid=$!
wait_file ready 2000
kill -TERM $wpid
wait $wpid; rc=$?
eq signal-exit "$rc" 143
eq signal-statuses "$(posts)" "$(s7 $p7) pending|$(s7 $p7) error|"
c signal-says 'q gh.log 4 "J[\"description\"]" | grep -q "^\.\./wait\.yml aborted: walter got signal 15$"'
c signal-passed-on 'has err1.txt "WARN [service] signal 15: passed on to the build" && has err1.txt " WARN [wait] aborted"'
eq signal-head-back "$(git -C work symbolic-ref HEAD) $(git -C work rev-parse HEAD)" "refs/heads/master $trunk"
c signal-not-recorded '! grep -q "\"7\"" state.json && grep -q "\"status\":\"finished\"" state.json'
touch go
ws -c ../wait.yml
eq signal-unlocked-rebuilt "$rc $(posts | tr '|' '\n' | tail -2 | tr '\n' '|')" "0 $(s7 $p7) pending|$(s7 $p7) success|"

# ---- git fails: error status, not recorded, tried again next time ------------
nosuch=0123456789abcdef0123456789abcdef01234567
PULLS="$PULLS 8:$nosuch:feature/8"
conf github.any_sha=true
: > gh.log
ws
eq git-fail-exit "$rc" 1
eq git-fail-statuses "$(posts)" "0123456 pending|0123456 error|"
c git-fail-says 'q gh.log 4 "J[\"description\"]" | grep -q "^git failed: fatal: couldn.t find remote ref refs/pull/8/head$" &&
	has err.txt "ERROR [git] fatal: couldn"'
c git-fail-not-recorded '! grep -q "\"8\"" state.json'
eq git-fail-head-back "$(git -C work rev-parse HEAD)" "$trunk"
PULLS="1:$pr1b:feature/1 3:$pr3:feature/3:fork 5:$pr5:feature/5 6:$pw:feature/6 7:$p7:feature/7"
conf

# ---- 120 pull requests over two pages; branch selects the last ---------------
p120=$(git_pr origin.git 120 "$trunk" pipeline.yml trunk.yml)
PULLS=$(i=1; while [ $i -lt 120 ]; do printf '%d:%040x:feature/%d ' $i $((0xabc000 + i)) $i; i=$((i + 1)); done; echo "120:$p120:feature/120")
conf
printf 'service:\n  type: github\n  api_url: $API\n  from: o\n  repo: r\n  update: $PWD/../many.json\n  branch: ^feature/12[0-9]$\npipeline:\n  - name: b\n    command: echo "$(git rev-parse HEAD) many" >> "$BUILT"\n' > many.yml
: > gh.log
ws -c ../many.yml
eq many-exit "$rc" 0
eq many-pages "$(qa gh.log 'r["path"]' | grep pulls)" "/api/v3/repos/o/r/pulls?state=open&per_page=100
/api/v3/repositories/7/pulls?state=open&per_page=100&page=2"
eq many-built "$(grep many built.txt)" "$trunk many
$p120 many"
eq many-state "$(python3 -c 'import json,sys; print(sorted(json.load(open(sys.argv[1]))["pulls"]))' many.json)" "['120']"
c many-says 'has err.txt "INFO [service] nothing new" || has err.txt "pull request #120 (feature/120) at $(s7 $p120): building"'

# one 429 with Retry-After: 1 on the pulls: waited for, then the list
conf 'faults=[{"match": "^GET .*/pulls", "status": 429, "headers": {"Retry-After": "1"}, "times": 1}]'
: > gh.log
ws -c ../many.yml
eq retry-after "$rc $(qa gh.log 'r["answer"]' | tr '\n' ' ')" "0 200 429 200 200 "
c retry-after-logged 'grep -q "WARN \[service\] GET /api/v3/repos/o/r/pulls?state=open&per_page=100 (127.0.0.1:$port): rate limit (HTTP 429): waiting 1s" err.txt && [ $took -ge 1000 ]'
# no requests left for an hour: stopped at once, naming the time
reset=$(($(date +%s) + 3600))
conf github.ratelimit_remaining=0 "github.ratelimit_reset=$reset" 'faults=[{"match": "^GET .*/commits/", "status": 403, "body": {"message": "API rate limit exceeded"}}]'
: > gh.log
ws -c ../many.yml
c ratelimit-far '[ $rc = 2 ] && has err.txt "rate limit (HTTP 403): no requests until $(date -u -d @$reset +%Y-%m-%dT%H:%M:%SZ), more than 15 minutes away: stopped" && [ $took -lt 5000 ] && [ "$(count gh.log)" = 1 ]'
# none left until a reset 2 s away: waited for
conf github.ratelimit_remaining=0 "github.ratelimit_reset=$(($(date +%s) + 2))" 'faults=[{"match": "^GET .*/commits/", "status": 403, "times": 1}]'
: > gh.log
ws -c ../many.yml
c ratelimit-near '[ $rc = 0 ] && [ "$(qa gh.log "r[\"answer\"]" | tr "\n" " ")" = "403 200 200 200 " ] && [ $took -ge 900 ] &&
	grep -q "WARN \[service\] GET /api/v3/repos/o/r/commits/master (127.0.0.1:$port): rate limit (HTTP 403): waiting [0-9]s" err.txt'
# a Link to another host: refused, nothing built
conf 'faults=[{"match": "^GET .*/pulls", "headers": {"Link": "<http://evil.example:1/steal>; rel=\"next\""}}]'
: > gh.log
cp built.txt built.before
ws -c ../many.yml
c foreign-link-refused '[ $rc = 2 ] && has err.txt "ERROR [service] page 1 of pull requests: " && grep -q "evil.example.*refused\|refused" err.txt && cmp -s built.txt built.before && [ "$(count gh.log)" = 2 ]'
c foreign-link-says 'grep "page 1 of pull requests" err.txt | grep -q "evil.example"'
# hostile answers: not JSON, not a SHA, pulls that make no sense
conf 'faults=[{"match": "^GET .*/pulls", "status": 200, "body": "<html>oops</html>"}]'
ws -c ../many.yml
c not-json '[ $rc = 2 ] && has err.txt "ERROR [service] page 1 of pull requests is not a JSON list"'
conf 'faults=[{"match": "^GET .*/commits/", "status": 200, "body": "; rm -rf / #"}]'
ws -c ../many.yml
c not-a-sha '[ $rc = 2 ] && has err.txt "ERROR [service] the API did not answer the trunk'"'"'s commit with a SHA"'
conf 'faults=[{"match": "^GET .*/pulls", "status": 200, "body": [{"number": -1, "state": "open", "head": {"sha": "'$p120'", "ref": "feature/120"}}, {"number": "1; x", "head": {"sha": "'$p120'", "ref": "feature/120"}}, {"number": 121, "head": {"sha": "--upload-pack=x", "ref": "feature/121"}}, {"number": 122, "head": null}, "text", null, {"number": 123, "head": {"sha": "'$p120'", "ref": ["feature/123"]}}]}]'
cp built.txt built.before
cp many.json many.before
ws -c ../many.yml
c nonsense-pulls-skipped '[ $rc = 0 ] && cmp -s built.txt built.before && has err.txt "nothing new (trunk master at $(s7 $trunk), 0 open pull requests)"'
mv many.before many.json
# a bad token: 401 at once
conf
ws GITHUB_TOKEN=wrong -c ../many.yml
c bad-token '[ $rc = 2 ] && has err.txt "ERROR [service] GET /api/v3/repos/o/r/commits/master (127.0.0.1:$port): HTTP 401 (Bad credentials)" && ! has err.txt wrong'

# ---- HTTPS: through curl and through stunnel as TLS proxy, pages too --------
if tls_start "$port"; then
	p121=$(git_pr origin.git 121 "$trunk" pipeline.yml trunk.yml)
	PULLS="$PULLS 121:$p121:feature/121"
	conf "base_url=\"https://127.0.0.1:$sport\""
	: > gh.log
	: > spybin/argv.log
	# shellcheck disable=SC2086
	ws $SPY CURL_CA_BUNDLE="$PWD/cert.pem" API="https://127.0.0.1:$sport/api/v3" -c ../many.yml
	eq https-curl "$rc $(posts)" "0 $(s7 $p121) pending|$(s7 $p121) success|"
	eq https-curl-pages "$(qa gh.log 'r["path"]' | grep -c pulls) $(grep -c spybin/curl spybin/argv.log)" "2 5"
	c https-curl-token-not-in-argv '! grep -q "$TOKEN" spybin/argv.log err.txt'
	c https-curl-normal-policy 'grep -q "^curl 0$" spybin/policy.log && ! grep -v " 0$" spybin/policy.log'
	p122=$(git_pr origin.git 122 "$trunk" pipeline.yml trunk.yml)
	PULLS="$PULLS 122:$p122:feature/122"
	conf "base_url=\"https://127.0.0.1:$sport\""
	: > gh.log
	: > spybin/argv.log
	# shellcheck disable=SC2086
	ws $SPY WALTER_TLS_PROXY=127.0.0.1:$tport API="https://127.0.0.1:$sport/api/v3" -c ../many.yml
	eq https-proxy "$rc $(posts)" "0 $(s7 $p122) pending|$(s7 $p122) success|"
	eq https-proxy-pages "$(qa gh.log 'r["path"]' | grep pulls | sed "s|https://127.0.0.1:$sport||")" \
		"/api/v3/repos/o/r/pulls?state=open&per_page=100
/api/v3/repositories/7/pulls?state=open&per_page=100&page=2"
	eq https-proxy-no-curl "$(grep -c spybin/curl spybin/argv.log)" 0
fi

# ---- where the state lives: by default in the git directory; in the work
# tree it is a warning ---------------------------------------------------------
conf
printf 'service:\n  type: github\n  api_url: $API\n  from: o\n  repo: r\n  branch: ^none$\npipeline:\n  - name: b\n    command: "true"\n' > nostate.yml
ws -c ../nostate.yml
c state-default '[ $rc = 0 ] && grep -q "\"sha\":\"$trunk\"" work/.git/walter-service.json && [ -e work/.git/walter-service.json.lock ] && ! has err.txt warning'
sed 's/^  branch:.*/&\n  update: in-tree.json/' nostate.yml > intree.yml
ws -c ../intree.yml
c state-in-tree-warns '[ $rc = 0 ] && [ -s work/in-tree.json ] && has err.txt "walter: ../intree.yml:7:11: warning: the state file (update) is inside the work tree: a checkout or the pipeline can change or remove it; put it outside (the default is in the git directory)"'
rm -f work/in-tree.json work/in-tree.json.lock

# ---- races: two polls at once build the trunk once; a TERM at any moment
# leaves HEAD, the lock and the state sound -------------------------------------
printf 'service:\n  type: github\n  api_url: $API\n  from: o\n  repo: r\n  update: $PWD/../race.json\n  branch: ^none$\npipeline:\n  - name: b\n    command: echo "$(git rev-parse HEAD) race" >> "$BUILT"\n' > race.yml
i=0; bad=0
while [ $i -lt 20 ]; do
	rm -f race.json
	n0=$(grep -c ' race$' built.txt)
	(cd work && exec env GITHUB_TOKEN=$TOKEN "$WALTER" -mode service -c ../race.yml >/dev/null 2>../race1.txt </dev/null) &
	r1=$!
	(cd work && exec env GITHUB_TOKEN=$TOKEN "$WALTER" -mode service -c ../race.yml >/dev/null 2>../race2.txt </dev/null) &
	r2=$!
	wait $r1; x1=$?
	wait $r2; x2=$?
	n1=$(grep -c ' race$' built.txt)
	case "$x1 $x2" in "0 2"|"2 0"|"0 0") ;; *) bad=$((bad + 1)) ;; esac
	[ $((n1 - n0)) = 1 ] || bad=$((bad + 1))
	i=$((i + 1))
done
eq race-two-polls-20 "$bad" 0
# the TERMs are spread over the length of one whole poll (measured here,
# so they reach its end, the checkout back, on a fast or a loaded machine)
rm -f race.json
_t0=$(ms)
(cd work && exec env GITHUB_TOKEN=$TOKEN "$WALTER" -mode service -c ../race.yml >/dev/null 2>&1 </dev/null)
dur=$(( $(ms) - _t0 ))
i=0; bad=0
while [ $i -lt 30 ]; do
	rm -f race.json
	(cd work && exec env GITHUB_TOKEN=$TOKEN "$WALTER" -mode service -c ../race.yml >/dev/null 2>../race1.txt </dev/null) &
	r1=$!
	_d=$((i * dur / 25))
	sleep "$((_d / 1000)).$(printf %03d $((_d % 1000)))"
	kill -TERM $r1 2>/dev/null
	wait $r1; x1=$?
	case $x1 in 0|143) ;; *) bad=$((bad + 1)); echo "race-term: exit $x1" ;; esac
	[ "$(git -C work symbolic-ref -q HEAD) $(git -C work rev-parse HEAD)" = "refs/heads/master $trunk" ] ||
		{ bad=$((bad + 1)); echo "race-term: HEAD not back"; }
	[ ! -e race.json ] || python3 -c 'import json,sys; json.load(open(sys.argv[1]))' race.json ||
		{ bad=$((bad + 1)); echo "race-term: state damaged"; }
	(cd work && env GITHUB_TOKEN=$TOKEN "$WALTER" -mode service -c ../race.yml >/dev/null 2>../race2.txt </dev/null) ||
		{ bad=$((bad + 1)); echo "race-term: next poll failed: $(grep ERROR race2.txt)"; }
	i=$((i + 1))
done
eq race-term-30 "$bad" 0

# The same at three given moments, each made certain by a git that sends
# walter the TERM itself ($PPID), then waits 0.3 s and marks that it
# ran: a signal during the last checkout does not stop it (HEAD is back);
# one during git status or git fetch leaves git time to finish (killed
# at once, git can leave .git/index.lock behind) and nothing is built.
mkdir -p termbin
printf '#!/bin/sh\ncase "$*" in "$TERM_ON") kill -TERM $PPID; sleep 0.3; echo ran >> "%s/term-mark.txt" ;; esac\nexec "%s" "$@"\n' \
	"$PWD" "$(command -v git)" > termbin/git
chmod +x termbin/git
for on in "checkout -q -f master" "status --porcelain --untracked-files=no" \
	"fetch -q --no-tags origin +refs/heads/master:refs/remotes/origin/master"; do
	rm -f race.json term-mark.txt
	n0=$(grep -c ' race$' built.txt)
	(cd work && exec env GITHUB_TOKEN=$TOKEN TERM_ON="$on" PATH="$PWD/../termbin:$PATH" "$WALTER" -mode service -c ../race.yml >/dev/null 2>../race1.txt </dev/null)
	x1=$?
	n1=$(grep -c ' race$' built.txt)
	eq "term-in-git-${on%% *}" "$x1 $(cat term-mark.txt) $(git -C work symbolic-ref -q HEAD) $(git -C work rev-parse HEAD) $(find work/.git -name '*.lock' ! -name walter-service.json.lock | wc -l) $((n1 - n0))" \
		"143 ran refs/heads/master $trunk 0 $([ "${on%% *}" = checkout ] && echo 1 || echo 0)"
done

# ---- the work tree must be clean ----------------------------------------------
echo '# a local change' >> work/pipeline.yml
: > gh.log
ws
c dirty-refused '[ $rc = 2 ] && has err.txt "has changes that checking out other commits would throw away" && [ "$(count gh.log)" = 0 ]'
git -C work checkout -q -- pipeline.yml

# ---- the service block: checked at load, with -check too ----------------------
printf 'service:\n  type: github\n  tokn: $TOK\n  from: o\n  repo: r\npipeline:\n  - name: a\n    command: "true"\n' > typo.yml
w -check -c typo.yml
eq check-typo "$rc $(cat err.txt)" '2 walter: typo.yml:3:3: warning: unknown key "tokn" in the service block (did you mean "token"?)'
printf 'service:\n  type: gitlab\n  update: 5\npipeline:\n  - name: a\n    command: "true"\n' > type.yml
w -c type.yml
eq check-type "$rc $(cat err.txt)" '2 walter: type.yml:2:9: unknown service type "gitlab" (github or local)'
printf 'service:\n  type: github\n  branch: "feature/("\n  trunk: -x\n  forks: maybe\npipeline:\n  - name: a\n    command: "true"\n' > bad.yml
w -c bad.yml
c check-bad '[ $rc = 2 ] && has err.txt "bad.yml:3:11: \"branch\" is not a usable regular expression (Go RE2 syntax): missing closing ) (character 9)" &&
	has err.txt "bad.yml:4:10: \"trunk\" must be a branch name" && has err.txt "bad.yml:5:10: \"forks\" must be true or false"'
# branch takes Go's RE2 syntax (what 1.x files hold); what walter's
# matcher does not support is a located error, never a silent mismatch
printf 'service:\n  type: github\n  branch: '"'"'^(?:feature|fix)/\\d+[\\w.-]*$'"'"'\npipeline:\n  - name: a\n    command: "true"\n' > re2.yml
w -check -c re2.yml
eq check-branch-re2 "$rc $(cat out.txt err.txt)" "0 re2.yml: ok"
for bad in '(?i)^feature/' '\\p{Lu}' '[[:alpha:]]+' 'a**'; do
	printf 'service:\n  type: github\n  branch: "%s"\npipeline:\n  - name: a\n    command: "true"\n' "$bad" > re2bad.yml
	w -check -c re2bad.yml
	echo "$rc $(cat err.txt)"
done > re2bad.txt
eq check-branch-unsupported "$(cat re2bad.txt)" '2 walter: re2bad.yml:3:11: "branch" is not a usable regular expression (Go RE2 syntax): flags such as (?i) are not supported (character 1)
2 walter: re2bad.yml:3:11: "branch" is not a usable regular expression (Go RE2 syntax): Unicode classes (\p, \P) are not supported (character 1)
2 walter: re2bad.yml:3:11: "branch" is not a usable regular expression (Go RE2 syntax): [:name:] classes are not supported (write the range, [a-z]) (character 2)
2 walter: re2bad.yml:3:11: "branch" is not a usable regular expression (Go RE2 syntax): invalid nested repetition operator (character 2)'
printf 'service:\n  type: github\n  token: ghs_PLAN_SECRET\npipeline:\n  - name: a\n    command: "true"\n' > plan.yml
w -c plan.yml -plan
c plan-names-only '[ $rc = 0 ] && has out.txt "Service" && has out.txt "  github [type, token] (polls with -mode service)  (plan.yml:2:3)" && ! grep -q PLAN_SECRET out.txt err.txt'
w -mode service -check -c plan.yml
eq check-needs "$rc $(cat err.txt | tr '\n' '|')" \
	'2 walter: plan.yml:2:3: the service block needs "from" (the repository'"'"'s owner)|walter: plan.yml:2:3: the service block needs "repo" (the repository'"'"'s name)|'
printf 'service:\n  type: github\n  from: o\n  repo: r\npipeline:\n  - name: a\n    command: "true"\n' > notok.yml
w -mode service -check -c notok.yml
eq check-needs-token "$rc $(cat err.txt)" '2 walter: notok.yml:2:3: the service block needs "token": set it, or $GITHUB_TOKEN'
GITHUB_TOKEN=x w -mode service -check -c notok.yml
eq check-token-env "$rc $(cat out.txt)" "0 notok.yml: ok"
"$WALTER" -mode service -check -c - < notok.yml >out.txt 2>err.txt; rc=$?
c check-stdin '[ $rc = 2 ] && has err.txt "-mode service reads the pipeline of each checkout: -c - cannot be used"'
# no block, or type: local: -mode service runs the pipeline here, as 1.x did
printf 'pipeline:\n  - name: here\n    command: echo ran-here\n' > local.yml
w -mode service -c local.yml
c no-block-local '[ $rc = 0 ] && has err.txt "[here] ran-here" && has err.txt "has no service block of type github: running locally"'
printf 'service:\n  type: local\npipeline:\n  - name: here\n    command: echo ran-here\n' > local2.yml
w -mode service -c local2.yml
c type-local '[ $rc = 0 ] && has err.txt "[here] ran-here"'
w -c local2.yml -mode nope
c bad-mode '[ $rc = 2 ] && has err.txt "invalid -mode nope (local or service)"'
