# tests/sys/status.sh - the github_status and gitlab_status notifiers
# against tests/fake_api.py: the start event (pending/running) and the
# result on the right SHA, per_task contexts, defaults from the CI
# environment and from git, located load errors, the error status of a
# file that does not load, aborts, a 429 with Retry-After, a 422, a rate
# limit too long to wait, the Enterprise prefix, HTTPS through curl and
# through a TLS proxy, and the token: never on a command line, in the log
# or in -plan.
. "$top/tests/sys/lib.sh"
. "$top/tests/sys/notify.lib"
. "$top/tests/sys/forge.lib"

# wd VAR=VALUE... ARGS: walter in ./work (a clone: git rev-parse HEAD
# works there) with a changed environment; out.txt, err.txt, $rc here.
wd() {
	_a=
	while [ $# -gt 0 ] && [ "${1#*=}" != "$1" ] && [ "${1#-}" = "$1" ]; do _a="$_a $1"; shift; done
	# shellcheck disable=SC2086
	(cd work && exec env $_a "$WALTER" "$@" >../out.txt 2>../err.txt </dev/null)
	rc=$?
}
unset GITHUB_REPOSITORY GITHUB_SHA GIT_COMMIT GITHUB_TOKEN GITHUB_API_URL BUILD_URL \
	CI_API_V4_URL CI_PROJECT_ID CI_COMMIT_SHA CI_JOB_URL

printf 'pipeline:\n  - name: a\n    command: "true"\n' > trunk.yml
sha=$(git_origin origin.git pipeline.yml trunk.yml)
other=$(git_pr origin.git 1 "$sha" pipeline.yml trunk.yml)
git_work origin.git work

# conf [faults JSON]: the API's config; o/r knows $sha and $other, as
# does GitLab project 42 (group/proj).
conf() {
	cat > api.json.tmp <<J
{"github": {"prefix": "/api/v3", "token": "ghs_T0K3N",
            "repos": {"o/r": {"id": 7, "branches": {"master": "$sha"}, "shas": ["$other"]}}},
 "gitlab": {"token": "glpat-T0K3N",
            "projects": {"42": {"path": "group/proj", "shas": ["$sha"]}}},
 "faults": ${1:-[]}}
J
	mv api.json.tmp api.json
}
conf
api_start gh api.json
gh=$api/api/v3
GH="GITHUB_REPOSITORY=o/r GITHUB_TOKEN=ghs_T0K3N GITHUB_API_URL=$gh"

# ---- GitHub: pending, then the result, on the commit, with its headers ----
cat > ok.yml <<Y
notify:
  - type: github_status
build:
  tasks:
    - name: first
      command: echo hello
    - name: second
      command: "true"
Y
# shellcheck disable=SC2086
wd $GH GITHUB_SHA="$sha" BUILD_URL=http://ci.example/job/7 -c ../ok.yml
eq gh-exit "$rc" 0
eq gh-two-posts "$(count gh.log)" 2
eq gh-path "$(qa gh.log 'r["method"] + " " + r["path"]' | sort -u)" "POST /api/v3/repos/o/r/statuses/$sha"
eq gh-pending-first "$(q gh.log 1 '[J["state"], J["context"], J["target_url"], J["description"]]')" \
	'["pending", "walter", "http://ci.example/job/7", "Running ../ok.yml"]'
eq gh-success-last "$(q gh.log 2 '[J["state"], J["context"], J["target_url"]]')" '["success", "walter", "http://ci.example/job/7"]'
c gh-success-says 'q gh.log 2 "J[\"description\"]" | grep -qE "^\.\./ok\.yml succeeded \([0-9.]+s\)$"'
eq gh-answers "$(qa gh.log 'r["answer"]' | tr '\n' ' ')" "201 201 "
eq gh-headers "$(q gh.log 1 '[H["authorization"], H["accept"], H["x-github-api-version"], H["user-agent"], H["content-type"]]')" \
	'["Bearer ghs_T0K3N", "application/vnd.github+json", "2022-11-28", "walter/2.1.0", "application/json"]'
eq gh-body-keys "$(q gh.log 1 'sorted(J)')" '["context", "description", "state", "target_url"]'
c gh-token-not-logged '! grep -q ghs_T0K3N err.txt out.txt'
c gh-stdout-empty '[ ! -s out.txt ]'

# a failure: the description names the failed task; no target_url unset
printf 'notify:\n  - type: github_status\n    context: ci/walter\npipeline:\n  - name: lint\n    command: exit 3\n  - name: test\n    command: "true"\n' > fail.yml
: > gh.log
# shellcheck disable=SC2086
wd $GH GITHUB_SHA="$sha" -c ../fail.yml
eq gh-fail-exit "$rc" 1
eq gh-fail-states "$(qa gh.log 'J["state"] + " " + J["context"]' | tr '\n' '|')" "pending ci/walter|failure ci/walter|"
c gh-fail-says 'q gh.log 2 "J[\"description\"]" | grep -qE "^\.\./fail\.yml failed \([0-9.]+s\): lint$"'
eq gh-no-target-url "$(q gh.log 1 '"target_url" in J')" false

# per_task: a context per task, walter/NAME, besides the run's
printf 'notify:\n  - type: github_status\n    per_task: true\nbuild:\n  tasks:\n    - name: a\n      command: "true"\n    - name: b\n      only_if: "false"\n      command: "true"\n    - name: c\n      command: exit 1\n    - name: d\n      command: "true"\n' > per.yml
: > gh.log
# shellcheck disable=SC2086
wd $GH GITHUB_SHA="$sha" -c ../per.yml
eq per-task-exit "$rc" 1
eq per-task-posts "$(qa gh.log 'J["context"] + " " + J["state"]' | tr '\n' '|')" \
	"walter pending|walter/a pending|walter/a success|walter/b pending|walter/b success|walter/c pending|walter/c failure|walter failure|"
eq per-task-condition "$(q gh.log 5 'J["description"]')" "Skipped (condition)"
c per-task-failed-says 'q gh.log 7 "J[\"description\"]" | grep -qE "^Failed: exit status 1 \([0-9.]+s\)$"'

# ---- defaults: the SHA from $GITHUB_SHA, $GIT_COMMIT, git rev-parse HEAD --
printf 'notify:\n  - type: github_status\npipeline:\n  - name: a\n    command: "true"\n' > def.yml
: > gh.log
# shellcheck disable=SC2086
wd $GH GIT_COMMIT="$other" -c ../def.yml
eq sha-from-git-commit "$rc $(q gh.log 1 'r["path"]')" "0 /api/v3/repos/o/r/statuses/$other"
# shellcheck disable=SC2086
wd $GH -c ../def.yml
eq sha-from-git "$rc $(q gh.log 3 'r["path"]')" "0 /api/v3/repos/o/r/statuses/$sha"
# shellcheck disable=SC2086
wd $GH GITHUB_SHA="$(echo "$other" | tr a-f A-F)" GIT_COMMIT="$sha" -c ../def.yml
eq sha-github-first-lowered "$rc $(q gh.log 5 'r["path"]')" "0 /api/v3/repos/o/r/statuses/$other"
# settings in the file win over the environment
printf 'notify:\n  - type: github_status\n    repo: o/r\n    sha: %s\n    token: $MY_TOKEN\n    api_url: %s/\n    context: mine\n    target_url: http://t.example/1\n    description: fixed words\npipeline:\n  - name: a\n    command: "true"\n' "$other" "$gh" > set.yml
: > gh.log
wd GITHUB_REPOSITORY=x/y GITHUB_SHA="$sha" GITHUB_TOKEN=wrong MY_TOKEN=ghs_T0K3N -c ../set.yml
eq settings-win "$rc $(q gh.log 1 'r["path"] + " " + H["authorization"]')" "0 /api/v3/repos/o/r/statuses/$other Bearer ghs_T0K3N"
eq settings-texts "$(qa gh.log 'J["context"] + "/" + J["target_url"] + "/" + J["description"]' | sort -u)" "mine/http://t.example/1/fixed words"

# -plan and -check: setting names and where defaults come from, no value
# shellcheck disable=SC2086
wd $GH -c ../def.yml -plan
eq plan-status "$rc $(grep github_status out.txt)" \
	"0   github_status (repo from \$GITHUB_REPOSITORY, token from \$GITHUB_TOKEN, api_url from \$GITHUB_API_URL, sha from git rev-parse HEAD)  (../def.yml:2:5)"
c plan-no-values '! grep -q -e ghs_T0K3N -e "$sha" -e 127.0.0.1 -e o/r out.txt err.txt'
wd MY_TOKEN=ghs_T0K3N -c ../set.yml -plan
c plan-set-names 'grep -q "github_status \[repo, sha, token, api_url, context, target_url, description\]" out.txt &&
	! grep -q -e ghs_T0K3N -e "$other" -e mine -e fixed out.txt err.txt'
wd MY_TOKEN=ghs_T0K3N -c ../set.yml -check
eq check-quiet "$rc $(cat out.txt) $(wc -c < err.txt)" "0 ../set.yml: ok 0"

# ---- missing settings: located load errors naming what was tried ----------
wd GITHUB_REPOSITORY=o/r GITHUB_SHA="$sha" -c ../def.yml
eq no-token "$rc $(cat err.txt)" '2 walter: ../def.yml:2:5: a github_status notifier needs "token": set it, or $GITHUB_TOKEN'
wd GITHUB_SHA="$sha" GITHUB_TOKEN=t -c ../def.yml
eq no-repo "$rc $(cat err.txt)" '2 walter: ../def.yml:2:5: a github_status notifier needs "repo": set it, or $GITHUB_REPOSITORY'
mkdir -p nogit
(cd nogit && env GITHUB_REPOSITORY=o/r GITHUB_TOKEN=t "$WALTER" -c ../def.yml >../out.txt 2>../err.txt </dev/null); rc=$?
c no-sha '[ $rc = 2 ] && grep -q "^walter: ../def.yml:2:5: a github_status notifier needs \"sha\": set it, or \$GITHUB_SHA or \$GIT_COMMIT, or run it in a git work tree (git rev-parse HEAD: " err.txt'
wd GITHUB_REPOSITORY=o/r GITHUB_SHA=abc123 GITHUB_TOKEN=t -c ../def.yml
eq short-sha "$rc $(cat err.txt)" '2 walter: ../def.yml:2:5: "sha" of this github_status notifier must be a full commit SHA (40 hex digits)'
wd GITHUB_REPOSITORY=justname GITHUB_SHA="$sha" GITHUB_TOKEN=t -c ../def.yml
eq bad-repo "$rc $(cat err.txt)" '2 walter: ../def.yml:2:5: "repo" of this github_status notifier must be OWNER/NAME'
printf 'notify:\n  - type: github_status\n    on: [failure]\n    contxt: x\npipeline:\n  - name: a\n    command: "true"\n' > keys.yml
# shellcheck disable=SC2086
wd $GH GITHUB_SHA="$sha" -c ../keys.yml -check
c status-keys-checked '[ $rc = 2 ] && has err.txt "../keys.yml:3:5: warning: unknown key \"on\" in a github_status notifier" &&
	has err.txt "../keys.yml:4:5: warning: unknown key \"contxt\" in a github_status notifier (did you mean \"context\"?)"'
: > gh.log
wd GITHUB_REPOSITORY=o/r GITHUB_SHA="$sha" -c ../def.yml
eq load-error-posts-nothing-without-token "$(count gh.log)" 0

# ---- a file that does not load: an error status with the first error -----
printf 'notify:\n  - type: github_status\npipeline:\n  - name: a\n    comand: "true"\n    timeout: soon\n' > broken.yml
: > gh.log
# shellcheck disable=SC2086
wd $GH GITHUB_SHA="$sha" -c ../broken.yml
eq load-error-exit "$rc" 2
eq load-error-status "$(count gh.log) $(q gh.log 1 '[J["state"], J["description"]]')" \
	'1 ["error", "../broken.yml:6:14: \"timeout\" must be a duration like 90, 90s, 1.5m or 1h"]'
# shellcheck disable=SC2086
wd $GH GITHUB_SHA="$sha" -c ../broken.yml -check
eq load-error-check-posts-nothing "$rc $(count gh.log)" "2 1"

# ---- aborts: -timeout and a signal are an error ---------------------------
printf 'notify:\n  - type: github_status\npipeline:\n  - name: slow\n    command: touch ../started; sleep 30\n' > slow.yml
: > gh.log
# shellcheck disable=SC2086
wd $GH GITHUB_SHA="$sha" -timeout 0.5 -c ../slow.yml
eq timeout-error "$rc $(q gh.log 2 'J["state"]')" "124 error"
c timeout-says 'q gh.log 2 "J[\"description\"]" | grep -qE "^\.\./slow\.yml: -timeout expired \("'
: > gh.log
rm -f started
# shellcheck disable=SC2086
(cd work && exec env $GH GITHUB_SHA="$sha" "$WALTER" -c ../slow.yml >../out.txt 2>../err.txt </dev/null) &
wpid=$!
wait_file started 1000
kill -TERM $wpid
wait $wpid; rc=$?
eq signal-exit "$rc" 143
eq signal-error "$(q gh.log 2 'J["state"]')" error
c signal-error-says 'q gh.log 2 "J[\"description\"]" | grep -qE "^\.\./slow\.yml aborted by signal 15 \("'

# ---- rate limits and refusals ---------------------------------------------
# one 429 with Retry-After: 1, waited for, then sent again
conf '[{"match": "^POST .*/statuses/", "status": 429, "headers": {"Retry-After": "1"}, "times": 1}]'
: > gh.log
# shellcheck disable=SC2086
tw_d() { _t0=$(ms); wd "$@"; took=$(( $(ms) - _t0 )); }
# shellcheck disable=SC2086
tw_d $GH GITHUB_SHA="$sha" -c ../def.yml
eq retry-after-answers "$rc $(qa gh.log 'r["answer"]' | tr '\n' ' ')" "0 429 201 201 "
eq retry-after-states "$(qa gh.log 'J["state"]' | tr '\n' ' ')" "pending pending success "
c retry-after-logged 'grep -q " WARN github_status (127.0.0.1:$port) answered HTTP 429 (rate limit): sending again in 1s" err.txt'
c retry-after-waited '[ $took -ge 1000 ]'
# a Retry-After longer than the timeout is not waited for
conf '[{"match": "^POST .*/statuses/", "status": 429, "headers": {"Retry-After": "30"}, "times": 1}]'
: > gh.log
printf 'notify:\n  - type: github_status\n    timeout: 2s\npipeline:\n  - name: a\n    command: "true"\n' > short.yml
# shellcheck disable=SC2086
tw_d $GH GITHUB_SHA="$sha" -c ../short.yml
eq retry-after-too-long "$rc $(qa gh.log 'r["answer"]' | tr '\n' ' ')" "0 429 201 "
c retry-after-too-long-logged 'has err.txt "ERROR Failed to notify to github_status: 127.0.0.1:$port answered HTTP 429 (fault 429) (rate limit)" && [ $took -lt 5000 ]'
# no requests left until X-RateLimit-Reset: waited when it is near
conf '[{"match": "^POST .*/statuses/", "status": 403, "headers": {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "'$(($(date +%s) + 2))'"}, "times": 1}]'
: > gh.log
# shellcheck disable=SC2086
tw_d $GH GITHUB_SHA="$sha" -c ../def.yml
eq ratelimit-reset-waited "$rc $(qa gh.log 'r["answer"]' | tr '\n' ' ')" "0 403 201 201 "
c ratelimit-reset-took '[ $took -ge 900 ]'
# a 403 that is no rate limit is an error at once
conf '[{"match": "^POST .*/statuses/", "status": 403, "body": {"message": "Resource not accessible by integration"}, "times": 1}]'
: > gh.log
# shellcheck disable=SC2086
wd $GH GITHUB_SHA="$sha" -c ../def.yml
c forbidden-logged '[ $rc = 0 ] && [ "$(count gh.log)" = 2 ] && has err.txt "Failed to notify to github_status: 127.0.0.1:$port answered HTTP 403 (Resource not accessible by integration)"'
# 422 (a commit GitHub does not know): a warning, the run goes on
conf
: > gh.log
# shellcheck disable=SC2086
wd $GH GITHUB_SHA=0123456789abcdef0123456789abcdef01234567 -c ../def.yml
c unknown-commit-warns '[ $rc = 0 ] && [ "$(grep -c " WARN github_status (127.0.0.1:$port) refused the status: HTTP 422 (No commit found for SHA: 0123456789abcdef0123456789abcdef01234567)" err.txt)" = 2 ] && ! grep -q ERROR err.txt'

# ---- GitLab: running, then success/failed/canceled; CI defaults ----------
GL="CI_API_V4_URL=$api/api/v4 CI_PROJECT_ID=42 CI_COMMIT_SHA=$sha CI_JOB_URL=http://gl.example/jobs/9"
printf 'notify:\n  - type: gitlab_status\n    token: $GL_TOKEN\npipeline:\n  - name: a\n    command: "true"\n' > gl.yml
: > gh.log
# shellcheck disable=SC2086
wd $GL GL_TOKEN=glpat-T0K3N -c ../gl.yml
eq gl-exit "$rc" 0
eq gl-path "$(qa gh.log 'r["path"] + " " + str(r["answer"])' | sort -u)" "/api/v4/projects/42/statuses/$sha 201"
eq gl-states "$(qa gh.log 'J["state"] + " " + J["name"] + " " + J["target_url"]' | tr '\n' '|')" \
	"running walter http://gl.example/jobs/9|success walter http://gl.example/jobs/9|"
eq gl-headers "$(q gh.log 1 '[H["private-token"], H["user-agent"], H.get("authorization")]')" '["glpat-T0K3N", "walter/2.1.0", null]'
printf 'notify:\n  - type: gitlab_status\n    project: group/proj\n    name: ci\n    token: $GL_TOKEN\npipeline:\n  - name: a\n    command: exit 1\n' > glf.yml
: > gh.log
# shellcheck disable=SC2086
wd $GL GL_TOKEN=glpat-T0K3N -c ../glf.yml
eq gl-failed "$rc $(qa gh.log 'r["path"] + " " + J["state"] + " " + J["name"]' | tr '\n' '|')" \
	"1 /api/v4/projects/group%2Fproj/statuses/$sha running ci|/api/v4/projects/group%2Fproj/statuses/$sha failed ci|"
sed 's/exit 1/sleep 30/' glf.yml > glslow.yml
: > gh.log
# shellcheck disable=SC2086
wd $GL GL_TOKEN=glpat-T0K3N -timeout 0.5 -c ../glslow.yml
eq gl-canceled "$rc $(qa gh.log 'J["state"]' | tr '\n' ' ')" "124 running canceled "
# shellcheck disable=SC2086
wd $GL -c ../def.yml -check
printf 'notify:\n  - type: gitlab_status\npipeline:\n  - name: a\n    command: "true"\n' > glnotok.yml
# shellcheck disable=SC2086
wd $GL CI_JOB_TOKEN=job -c ../glnotok.yml
eq gl-no-token "$rc $(cat err.txt)" '2 walter: ../glnotok.yml:2:5: a gitlab_status notifier needs "token": set it (a CI job token cannot post commit statuses)'

# ---- HTTPS: through curl and through a TLS proxy (stunnel) ----------------
if tls_start "$port"; then
	spy spybin curl git
	: > gh.log
	wd PATH="$PWD/spybin:$PATH" CURL_CA_BUNDLE="$PWD/cert.pem" GITHUB_REPOSITORY=o/r GITHUB_TOKEN=ghs_T0K3N \
		GITHUB_API_URL="https://127.0.0.1:$sport/api/v3" -c ../def.yml
	eq https-curl "$rc $(qa gh.log 'r["path"] + " " + J["state"] + " " + str(r["answer"])' | tr '\n' '|')" \
		"0 /api/v3/repos/o/r/statuses/$sha pending 201|/api/v3/repos/o/r/statuses/$sha success 201|"
	eq https-curl-ran "$(grep -c 'spybin/curl' spybin/argv.log) $(grep -c 'spybin/git' spybin/argv.log)" "2 1"
	c https-token-not-in-argv '! grep -q T0K3N spybin/argv.log && ! grep -q T0K3N err.txt'
	: > gh.log
	wd PATH="$PWD/spybin:$PATH" WALTER_TLS_PROXY=127.0.0.1:$tport GITHUB_REPOSITORY=o/r GITHUB_TOKEN=ghs_T0K3N \
		GITHUB_SHA="$sha" GITHUB_API_URL="https://127.0.0.1:$sport/api/v3" -c ../def.yml
	eq https-tls-proxy "$rc $(qa gh.log 'r["path"] + " " + J["state"]' | tr '\n' '|')" \
		"0 https://127.0.0.1:$sport/api/v3/repos/o/r/statuses/$sha pending|https://127.0.0.1:$sport/api/v3/repos/o/r/statuses/$sha success|"
	eq https-tls-proxy-no-curl "$(grep -c 'spybin/curl' spybin/argv.log)" 2
fi
