# tests/sys/forge.sh - the test fixtures of service mode and the commit
# status notifiers, checked on their own: the git helpers of forge.lib (a
# bare origin with refs/pull/N/head, a clone, a force-push) and
# tests/fake_api.py driven by curl (pages and Link, statuses, GitLab,
# faults, rate-limit headers, the Enterprise prefix).
. "$top/tests/sys/lib.sh"
. "$top/tests/sys/notify.lib"
. "$top/tests/sys/forge.lib"

for tool in git curl; do
	command -v $tool >/dev/null || echo "FAIL forge-$tool: $tool not installed (apt-get install -y $tool)"
done

# ---- git origin ---------------------------------------------------------
printf 'pipeline:\n  - name: a\n    command: echo trunk\n' > trunk.yml
printf 'pipeline:\n  - name: a\n    command: echo pr1\n' > pr1.yml
printf 'pipeline:\n  - name: a\n    command: echo pr2\n' > pr2.yml
printf 'pipeline:\n  - name: a\n    command: echo pr1 again\n' > pr1b.yml
trunk=$(git_origin origin.git pipeline.yml trunk.yml)
c origin-made 'echo "$trunk" | grep -qE "^[0-9a-f]{40}$"'
pr1=$(git_pr origin.git 1 "$trunk" pipeline.yml pr1.yml)
pr2=$(git_pr origin.git 2 "$trunk" pipeline.yml pr2.yml)
eq origin-pull-refs "$(git ls-remote origin.git | grep refs/pull/ | tr '\t' ' ')" \
	"$pr1 refs/pull/1/head
$pr2 refs/pull/2/head"
eq origin-pr-parent "$(git -C origin.git rev-parse "$pr1^")" "$trunk"
eq origin-pr-file "$(git -C origin.git show "$pr2:pipeline.yml")" "$(cat pr2.yml)"
eq origin-same-sha-again "$(git_origin again.git pipeline.yml trunk.yml)" "$trunk"

git_work origin.git work
eq work-head "$(git -C work rev-parse HEAD)" "$trunk"
eq work-branch "$(git -C work symbolic-ref --short HEAD)" master
eq work-no-pull-refs "$(git -C work for-each-ref 'refs/pull/*' 'refs/walter/*' | wc -l | tr -d ' ')" 0
git -C work fetch -q --no-tags origin +refs/pull/1/head:refs/walter/pr/1
eq work-fetch-pr "$(git -C work rev-parse refs/walter/pr/1)" "$pr1"
git -C work checkout -q --detach -f "$pr1"
eq work-checkout-pr "$(cat work/pipeline.yml)" "$(cat pr1.yml)"
# force-push: PR 1 now sits on PR 2, not on its old head
pr1b=$(git_pr origin.git 1 "$pr2" pipeline.yml pr1b.yml)
c force-push-new-sha '[ -n "$pr1b" ] && [ "$pr1b" != "$pr1" ]'
c force-push-not-fast-forward '! git -C origin.git merge-base --is-ancestor "$pr1" "$pr1b"'
git -C work fetch -q --no-tags origin +refs/pull/1/head:refs/walter/pr/1
eq work-fetch-forced "$(git -C work rev-parse refs/walter/pr/1)" "$pr1b"
git -C work checkout -q -f master
eq work-back-on-master "$(git -C work rev-parse HEAD)" "$trunk"

# ---- the fake API ---------------------------------------------------------
# 120 open PRs (3 from a fork, 4 from a deleted fork), 121 closed, on
# GitHub Enterprise (/api/v3); a GitLab project 42 = group/proj.
conf() {
	TRUNK=$trunk PR1=$pr1 PR2=$pr2 python3 - <<'PY' | json_set "$@"
import json, os, sys
pulls = [{"number": n, "ref": "feature/%d" % n,
          "sha": os.environ["PR%d" % n] if n <= 2 else "%040x" % (0xabc000 + n)}
         for n in range(1, 121)]
pulls[2]["fork"] = True
pulls[3]["fork"] = True
pulls[3]["head_repo"] = None
pulls.append({"number": 121, "ref": "old", "sha": "%040x" % 121, "state": "closed"})
c = {"github": {"prefix": "/api/v3", "token": "ghs_T0K3N",
                "repos": {"o/r": {"id": 7, "branches": {"master": os.environ["TRUNK"]},
                                  "pulls": pulls},
                          "o/old": {"id": 7, "moved_to": "o/r"}}},
     "gitlab": {"token": "glpat-T0K3N",
                "projects": {"42": {"path": "group/proj", "shas": [os.environ["TRUNK"]]}}}}
print(json.dumps(c))
PY
}
conf | api_config api.json
api_start gh api.json
gh=$api/api/v3
auth='Authorization: Bearer ghs_T0K3N'

# cu ARGS...: curl, the head into h.txt, the body into b.txt, the status
# in $code.
cu() { code=$(curl -sS -D h.txt -o b.txt -w '%{http_code}' "$@"); }
# hdr NAME: a header of the last cu answer
hdr() { grep -i "^$1:" h.txt | head -1 | cut -d: -f2- | sed 's/^ //' | tr -d '\r'; }
# j EXPR: the Python expression EXPR over the last cu body as J
j() { python3 -c 'import json,sys; J=json.load(open("b.txt")); v=eval(sys.argv[1]); print(v if isinstance(v,str) else json.dumps(v))' "$1"; }

cu -H "$auth" -H 'Accept: application/vnd.github.sha' "$gh/repos/o/r/commits/master"
eq api-trunk-sha "$code $(cat b.txt)" "200 $trunk"
eq api-logged-accept "$(q gh.log 1 'H["accept"]')" application/vnd.github.sha
eq api-logged-fields "$(q gh.log 1 '[k for k, v in r["fields"]]')" '["Host", "User-Agent", "Authorization", "Accept"]'
eq api-logged-answer "$(q gh.log 1 'r["answer"]')" 200
cu -H "$auth" "$gh/repos/o/r/commits/master"
eq api-trunk-json "$(j 'J["sha"]')" "$trunk"
cu -H "Authorization: token ghs_T0K3N" -H 'Accept: application/vnd.github.sha' "$gh/repos/o/r/commits/$pr1"
eq api-commit-by-sha "$code $(cat b.txt)" "200 $pr1"
cu -H "$auth" "$gh/repos/o/r/commits/nope"
eq api-unknown-ref "$code" 422
cu -H 'Authorization: Bearer wrong' "$gh/repos/o/r/commits/master"
eq api-bad-token "$code $(j 'J["message"]')" "401 Bad credentials"
cu "$gh/repos/o/r/commits/master"
eq api-no-token "$code" 401
cu -H "$auth" "$api/repos/o/r/commits/master"
eq api-prefix-needed "$code" 404
cu -H "$auth" "$gh/repos/o/nope/pulls"
eq api-unknown-repo "$code" 404
eq api-ratelimit-headers "$(hdr x-ratelimit-limit)/$(hdr x-ratelimit-resource)/$(hdr x-ratelimit-reset | grep -cE '^[0-9]{10}$')" "5000/core/1"
c api-ratelimit-counts-down '[ "$(hdr x-ratelimit-remaining)" -lt 5000 ]'

# pages: 100 + 20, Link like github.com's (the /repositories/ID form)
cu -H "$auth" "$gh/repos/o/r/pulls?state=open&per_page=100"
eq page1-count "$code $(j 'len(J)')" "200 100"
eq page1-link "$(hdr link)" "<$gh/repositories/7/pulls?state=open&per_page=100&page=2>; rel=\"next\", <$gh/repositories/7/pulls?state=open&per_page=100&page=2>; rel=\"last\""
eq page1-first-pr "$(j '[J[0]["number"], J[0]["head"]["sha"], J[0]["head"]["ref"], J[0]["head"]["repo"]["fork"], J[0]["base"]["ref"], J[0]["base"]["sha"]]')" \
	"[1, \"$pr1\", \"feature/1\", false, \"master\", \"$trunk\"]"
eq page1-fork "$(j '[J[2]["head"]["repo"]["fork"], J[2]["head"]["repo"]["full_name"], J[3]["head"]["repo"]]')" '[true, "contributor3/r", null]'
c page1-surrogate-pair 'grep -q "\\\\ud83d\\\\ude00" b.txt'
cu -H "$auth" "$gh/repositories/7/pulls?state=open&per_page=100&page=2"
eq page2-count "$code $(j '[p["number"] for p in J][::19]')" "200 [101, 120]"
eq page2-link "$(hdr link)" "<$gh/repositories/7/pulls?state=open&per_page=100&page=1>; rel=\"prev\", <$gh/repositories/7/pulls?state=open&per_page=100&page=1>; rel=\"first\""
cu -H "$auth" "$gh/repos/o/r/pulls?state=closed"
eq closed-pulls "$(j '[p["number"] for p in J]')" "[121]"
cu -H "$auth" "$gh/repos/o/r/pulls"
eq default-per-page "$(j 'len(J)')/$(hdr link | grep -o 'page=4>; rel="last"')" '30/page=4>; rel="last"'
cu -H "$auth" "$gh/repos/o/old/pulls"
eq moved-repo "$code $(hdr location)" "301 $gh/repositories/7/pulls"

# statuses
cu -H "$auth" -d '{"state":"pending","context":"walter","description":"Running"}' "$gh/repos/o/r/statuses/$trunk"
eq status-created "$code $(j '[J["state"], J["context"]]')" '201 ["pending", "walter"]'
cu -H "$auth" -d '{"state":"success","context":"walter","target_url":"http://ci/1"}' "$gh/repos/o/r/statuses/$trunk"
cu -H "$auth" "$gh/repos/o/r/commits/$trunk/statuses"
eq status-list "$(j '[s["state"] for s in J]')" '["success", "pending"]'
cu -H "$auth" -d "{\"state\":\"failure\",\"description\":\"$(printf '%0141d' 0)\"}" "$gh/repos/o/r/statuses/$trunk"
eq status-description-141 "$code $(j 'J["errors"][0]["field"]')" "422 description"
cu -H "$auth" -d "{\"state\":\"failure\",\"description\":\"$(printf '%0140d' 0)\"}" "$gh/repos/o/r/statuses/$trunk"
eq status-description-140 "$code" 201
cu -H "$auth" -d '{"state":"failed"}' "$gh/repos/o/r/statuses/$trunk"
eq status-bad-state "$code" 422
cu -H "$auth" -d '{"state":"success"}' "$gh/repos/o/r/statuses/0123456789012345678901234567890123456789"
eq status-unknown-sha "$code $(j 'J["message"]')" "422 No commit found for SHA: 0123456789012345678901234567890123456789"
cu -H "$auth" -d '{"state":' "$gh/repos/o/r/statuses/$trunk"
eq status-bad-json "$code" 400
cu -d '{"state":"success"}' "$gh/repos/o/r/statuses/$trunk"
eq status-no-token "$code" 401

# faults: one 429 with Retry-After; a 403 that records nothing; a Link
# to a foreign host; rate limit exhausted; a closed connection
conf 'faults=[{"match": "^GET .*/pulls", "status": 429, "headers": {"Retry-After": "1"}, "times": 1},
	{"match": "^POST .*/statuses/", "status": 403, "times": 1, "body": {"message": "Resource not accessible by integration"}}]' |
	api_config api.json
cu -H "$auth" "$gh/repos/o/r/pulls?per_page=100"
eq fault-429 "$code $(hdr retry-after)" "429 1"
cu -H "$auth" "$gh/repos/o/r/pulls?per_page=100"
eq fault-429-once "$code $(j 'len(J)')" "200 100"
cu -H "$auth" -d '{"state":"error"}' "$gh/repos/o/r/statuses/$trunk"
eq fault-403 "$code $(j 'J["message"]')" "403 Resource not accessible by integration"
cu -H "$auth" "$gh/repos/o/r/commits/$trunk/statuses"
eq fault-403-records-nothing "$(j 'len(J)')" 3
conf 'faults=[{"match": "^GET .*/pulls", "headers": {"Link": "<http://evil.example:1/steal>; rel=\"next\""}}]' |
	api_config api.json
cu -H "$auth" "$gh/repos/o/r/pulls?per_page=100"
eq fault-foreign-link "$code $(j 'len(J)') $(hdr link)" '200 100 <http://evil.example:1/steal>; rel="next"'
conf 'github.ratelimit_remaining=0' 'github.ratelimit_reset=1700000000' \
	'faults=[{"match": "^GET .*/commits/", "status": 403, "body": {"message": "API rate limit exceeded"}}]' |
	api_config api.json
cu -H "$auth" "$gh/repos/o/r/commits/master"
eq fault-ratelimit "$code $(hdr x-ratelimit-remaining) $(hdr x-ratelimit-reset)" "403 0 1700000000"
conf 'faults=[{"match": "^GET /api/v3/repos/o/r/commits/master$", "close": true}]' | api_config api.json
curl -sS -H "$auth" "$gh/repos/o/r/commits/master" >/dev/null 2>curl.err
c fault-close 'grep -q "Empty reply" curl.err'
conf 'github.chunked=true' 'github.repos.o/r.pad=3000' | api_config api.json
cu -H "$auth" "$gh/repos/o/r/pulls?per_page=100"
eq chunked-pages "$code $(j 'len(J)') $(hdr transfer-encoding)" "200 100 chunked"
c padded-page-size '[ "$(wc -c < b.txt)" -gt 327680 ]'
# a config change reaches the next request: master moved on
conf "github.repos=$(python3 -c 'import json,sys; print(json.dumps({"o/r": {"branches": {"master": sys.argv[1]}}}))' "$pr2")" |
	api_config api.json
cu -H "$auth" -H 'Accept: application/vnd.github.sha' "$gh/repos/o/r/commits/master"
eq config-reread "$(cat b.txt)" "$pr2"

# GitLab
gl=$api/api/v4
cu -H 'PRIVATE-TOKEN: glpat-T0K3N' -H 'Content-Type: application/json' \
	-d '{"state":"running","name":"walter"}' "$gl/projects/42/statuses/$trunk"
eq gitlab-running "$code $(j '[J["status"], J["name"], J["sha"]]')" "201 [\"running\", \"walter\", \"$trunk\"]"
cu -H 'PRIVATE-TOKEN: glpat-T0K3N' -H 'Content-Type: application/json' \
	-d '{"state":"running","name":"walter"}' "$gl/projects/42/statuses/$trunk"
eq gitlab-same-state-twice "$code $(j 'J["message"]')" "400 Cannot transition status via :running from :running"
cu -H 'PRIVATE-TOKEN: glpat-T0K3N' --data-urlencode 'state=success' --data-urlencode 'name=walter' \
	"$gl/projects/group%2Fproj/statuses/$trunk"
eq gitlab-by-path-form "$code $(j 'J["status"]')" "201 success"
cu -X POST -H 'PRIVATE-TOKEN: glpat-T0K3N' "$gl/projects/42/statuses/$trunk?state=failed&name=other"
eq gitlab-query "$code $(j 'J["status"]')" "201 failed"
cu -H 'PRIVATE-TOKEN: nope' -d 'state=success' "$gl/projects/42/statuses/$trunk"
eq gitlab-bad-token "$code" 401
cu -H 'PRIVATE-TOKEN: glpat-T0K3N' -d 'state=success' "$gl/projects/42/statuses/$pr1"
eq gitlab-unknown-sha "$code" 404
cu -H 'PRIVATE-TOKEN: glpat-T0K3N' -d 'state=done' "$gl/projects/42/statuses/$trunk"
eq gitlab-bad-state "$code" 400
cu -H 'PRIVATE-TOKEN: glpat-T0K3N' -d 'state=success' "$gl/projects/43/statuses/$trunk"
eq gitlab-unknown-project "$code" 404
eq log-one-line-each "$(count gh.log)" "$(grep -c '"answer"' gh.log)"
