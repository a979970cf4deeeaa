# A service poll, the commit status notifiers and the new chat types
# under valgrind (walter, its notification worker and what it forks
# before exec): no errors, no definite leaks. Built with glibc,
# dynamically, as in valgrind.sh.
. "$top/tests/sys/lib.sh"
. "$top/tests/sys/notify.lib"
. "$top/tests/sys/forge.lib"

vg_build forge-valgrind

# vg NAME DIR ARGS...: walter-vg ARGS in DIR under memcheck (one log per
# process); ok when every log is empty and the exit status is $want.
vg() {
	_n=$1 _d=$2; shift 2
	(cd "$_d" && exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
		--log-file="$OLDPWD/vg-$_n.%p.txt" "$OLDPWD/walter-vg" "$@" >/dev/null 2>"$OLDPWD/vg-$_n.err" </dev/null)
	_r=$?
	_logs=$(cat vg-"$_n".*.txt 2>/dev/null)
	if [ "$_r" = "$want" ] && [ -z "$_logs" ]; then echo "ok vg-$_n"
	else echo "FAIL vg-$_n: exit $_r: $(echo "$_logs" | head -5 | tr '\n' ' ') $(tail -3 "vg-$_n.err" | tr '\n' ' ')"; fi
}

printf 'service:\n  type: github\n  api_url: $API\n  from: o\n  repo: r\n  update: $STATE\npipeline:\n  - name: a\n    command: "true"\n' > trunk.yml
sed 's/"true"/exit 1/' trunk.yml > pr.yml
trunk=$(git_origin origin.git pipeline.yml trunk.yml)
pr1=$(git_pr origin.git 1 "$trunk" pipeline.yml trunk.yml)
pr2=$(git_pr origin.git 2 "$trunk" pipeline.yml pr.yml)
git_work origin.git work
pad=$(python3 -c 'print("x" * 4000)')
cat > api.json <<J
{"github": {"prefix": "/api/v3", "token": "ghs_VG",
            "repos": {"o/r": {"id": 7, "pad": 2000, "branches": {"master": "$trunk"},
                              "pulls": [{"number": 1, "sha": "$pr1", "ref": "a"}, {"number": 2, "sha": "$pr2", "ref": "b"},
                                        {"number": 3, "sha": "$pr2", "ref": "c", "fork": true}]}}},
 "gitlab": {"token": "glpat-VG", "projects": {"42": {"path": "g/p", "shas": ["$trunk"]}}},
 "faults": [{"match": "^POST .*/statuses/", "status": 429, "headers": {"Retry-After": "0"}, "times": 1}]}
J
api_start gh api.json
export API=$api/api/v3 STATE=$PWD/state.json GITHUB_TOKEN=ghs_VG
want=1
vg poll work -mode service
eq vg-poll-built "$(python3 -c 'import json,sys; print(sorted(json.load(open(sys.argv[1]))["pulls"]))' state.json)" "['1', '2']"
want=0
vg poll-again work -mode service

start chat
cat > work/notify.yml <<Y
notify:
  - type: github_status
    api_url: $API
    repo: o/r
    per_task: true
  - type: gitlab_status
    api_url: $api/api/v4
    project: g/p
    token: glpat-VG
  - type: discord
    url: http://127.0.0.1:$port/d
  - type: teams
    url: http://127.0.0.1:$port/t
  - type: mattermost
    url: http://127.0.0.1:$port/m
    channel: x
  - type: googlechat
    url: http://127.0.0.1:$port/g
build:
  tasks:
    - name: a
      command: echo $pad
      report_full_output: true
    - name: b
      command: "true"
Y
vg statuses work -c notify.yml
eq vg-statuses-posted "$(grep -c "\"POST\"" gh.log)" 15
eq vg-chat-posted "$(count chat.log)" 12
printf 'notify:\n  - type: github_status\n    api_url: %s\n    repo: o/r\npipeline:\n  - name: a\n    timeout: soon\n' "$API" > work/broken.yml
want=2
vg load-error work -c broken.yml
eq vg-load-error-posted "$(grep -c "\"POST\"" gh.log)" 16
