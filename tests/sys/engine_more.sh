# More of the config surface: D0 mapping form, $$, broken includes, -logDir,
# -jobs, -timeout, merge keys, YAML 1.1 booleans.
. "$top/tests/sys/lib.sh"

# the oldest README form: pipeline as a mapping keyed by stage name
cat > map.yml <<'Y'
pipeline:
  command_stage_1:
    stage_type: command
    command: echo first
  command_stage_2:
    command: echo second
Y
w -c map.yml
t d0-mapping-form sh -c '[ "$rc" = 0 ] && has err.txt "[command_stage_1] first" && has err.txt "[command_stage_2] second" &&
  [ $(grep -n "\[command_stage_1\] first" err.txt | cut -d: -f1) -lt $(grep -n "\[command_stage_2\] second" err.txt | cut -d: -f1) ] &&
  has err.txt "walter: map.yml:2:3: warning: \"pipeline\" is a mapping of stage names"'

# $$ is a literal dollar in substituted fields
mkdir 'a$b'
printf 'pipeline:\n  - name: d\n    directory: a$$b\n    command: pwd\n' > dd.yml
w -c dd.yml
t dollar-dollar sh -c "[ \$rc = 0 ] && grep -q '\[d\] .*/a\\\$b\$' err.txt"

# a broken included file is an error with its own location
printf -- '- name: x\n  command: [unclosed\n' > broken.yml
printf 'build:\n  tasks:\n    - include: broken.yml\n' > inc.yml
w -c inc.yml -build
t include-broken sh -c '[ "$rc" = 2 ] && grep -q "^walter: broken.yml:[0-9]*:[0-9]*: " err.txt'
printf 'build:\n  tasks:\n    - include: notalist.yml\n' > inc2.yml
printf 'name: x\n' > notalist.yml
w -c inc2.yml -build
t include-not-a-list sh -c '[ "$rc" = 2 ] && has err.txt "walter: notalist.yml:1:1: an included file must be a list of tasks"'

# -logDir writes the same log to a file
mkdir logs
printf 'pipeline:\n  - name: l\n    command: echo logged line\n' > l.yml
w -c l.yml -logDir logs
t logdir sh -c '[ "$rc" = 0 ] && grep -q "\[l\] logged line" logs/walter-*.log'
w -c l.yml -logDir /nonexistent/logs
t logdir-bad sh -c '[ "$rc" = 2 ] && has err.txt "cannot create /nonexistent/logs/walter-"'

# -jobs 1 runs a parallel group one task at a time
cat > j.yml <<'Y'
pipeline:
  - name: g
    parallel:
      - name: a
        command: mkdir lock && sleep 0.2 && rmdir lock
      - name: b
        command: mkdir lock && sleep 0.2 && rmdir lock
      - name: c
        command: mkdir lock && sleep 0.2 && rmdir lock
Y
w -c j.yml -jobs 1
t jobs-one-at-a-time [ "$rc" = 0 ]
w -c j.yml
t jobs-unlimited-overlap [ "$rc" = 1 ]

# -timeout aborts the run, cleanup still runs, exit 124
printf 'pipeline:\n  - name: slow\n    command: sleep 20\ncleanup:\n  - name: c\n    command: touch cleaned\n' > rt.yml
s=$(date +%s); w -c rt.yml -timeout 0.5; e=$(($(date +%s) - s))
t run-timeout sh -c "[ \$rc = 124 ] && [ $e -lt 5 ] && [ -e cleaned ] && has err.txt 'took longer than -timeout 0.5s'"

# merge keys in config loading
cat > merge.yml <<'Y'
defaults: &defaults
  directory: sub
  env: {WHO: merged}
pipeline:
  - <<: *defaults
    name: m
    command: echo "$WHO in $(basename $(pwd))"
Y
mkdir sub
w -c merge.yml
t merge-keys has err.txt "[m] merged in sub"

# a stage whose command is null warns, and runs nothing
printf 'pipeline:\n  - name: n\n    command:\n' > null.yml
w -c null.yml
t null-command sh -c '[ "$rc" = 0 ] && has err.txt "stage option \"command\" is not specified"'
