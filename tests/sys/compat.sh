# Friendlier checks and the v2/v0 compatibility items: deprecations are
# notes, a notifier whose variable is unset is a warning under -check, a
# deploy-only 2.x file asks for -deploy, name beside include, a group's
# command, shell_script, a shell stage's file.
. "$top/tests/sys/lib.sh"

# -- -check passes on the bundled examples; deprecations are notes, once each
for f in "$top"/examples/*.yml; do
	cp "$f" .
	w -check -c "$(basename "$f")"
	[ "$rc" = 0 ] || echo "$f" >> check-failed.txt
done
t check-examples [ ! -e check-failed.txt ]
w -check -c seed.yml
t check-seed-notes sh -c '[ "$rc" = 0 ] && has out.txt "seed.yml: ok" && [ "$(grep -c "note: \"stage_name\" is deprecated" err.txt)" = 1 ] &&
  [ "$(grep -c "note: \"run_after\" is deprecated" err.txt)" = 1 ] && ! grep -q "warning:" err.txt'
w -check -threshold WARN -c seed.yml
t notes-hidden-by-threshold sh -c '[ "$rc" = 0 ] && [ ! -s err.txt ]'
w -threshold WARN -c seed.yml
t notes-hidden-on-run sh -c '[ "$rc" = 0 ] && ! grep -q "note:" err.txt'
# unknown keys and type errors stay errors under -check
printf 'pipeline:\n  - stage_name: a\n    comand: x\n' > typo.yml
w -check -c typo.yml
t check-unknown-key-still-error sh -c '[ "$rc" = 2 ] && has err.txt "warning: unknown key \"comand\" in a stage (did you mean \"command\"?)"'
printf 'pipeline:\n  - name: a\n    retry: often\n' > type.yml
w -check -c type.yml
t check-type-error [ "$rc" = 2 ]
# a notifier setting whose variable is unset: a warning, even under -check
printf 'notify:\n  - type: slack\n    url: $NOT_SET_HOOK_URL\npipeline:\n  - name: a\n    command: "true"\n' > nt.yml
w -check -c nt.yml
t check-unset-notifier-var sh -c '[ "$rc" = 0 ] && has err.txt "nt.yml:3:10: warning: NO environment variable: \$NOT_SET_HOOK_URL" && has out.txt "nt.yml: ok"'
# ... but an unset variable elsewhere (directory) is still an error under -check
printf 'pipeline:\n  - name: a\n    directory: $NOT_SET_DIR_VAR\n    command: "true"\n' > dv.yml
w -check -c dv.yml
t check-unset-other-var [ "$rc" = 2 ]

# -- a 2.x file with only deploy, run without flags: exit 2, saying -deploy
printf 'deploy:\n  tasks:\n    - name: ship\n      command: touch shipped\n' > donly.yml
w -c donly.yml
t deploy-only-exit2 sh -c '[ "$rc" = 2 ] && has err.txt "walter: donly.yml has only a deploy phase: run it with -deploy" && [ ! -e shipped ]'
w -deploy -c donly.yml
t deploy-only-with-flag sh -c '[ "$rc" = 0 ] && [ -e shipped ]'
rm -f shipped
w -c donly.yml ship
t deploy-only-by-name sh -c '[ "$rc" = 0 ] && [ -e shipped ]'
w -check -c donly.yml
t deploy-only-check [ "$rc" = 0 ]

# -- walter 2: name beside include names a group in the log
printf -- '- name: one\n  command: echo one\n- name: two\n  command: echo two\n' > part.yml
printf 'build:\n  tasks:\n    - name: first\n      command: echo first\n    - name: the part\n      include: part.yml\n    - include: part.yml\n    - name: last\n      command: cat\n' > inc.yml
w -c inc.yml
mask < err.txt > m.txt
t include-name-group sh -c '[ "$rc" = 0 ] && grep -q "INFO \[the part\] Start task" m.txt && grep -q "INFO \[the part\] End task" m.txt &&
  [ "$(grep -c "\[one\] one" m.txt)" = 2 ]'
t include-name-order sh -c '[ "$(grep -n "\[the part\] Start" m.txt | cut -d: -f1)" -lt "$(grep -n "\[one\] Start" m.txt | head -1 | cut -d: -f1)" ]'
# stdin still flows: the task after an include reads the last included task
t include-name-stdin has m.txt "[last] two"
w -list -c inc.yml
t include-name-list sh -c 'grep -q "^  the part/one$" out.txt && grep -q "^  one$" out.txt'
w -c inc.yml "the part/two"
t include-name-select sh -c '[ "$rc" = 0 ] && has err.txt "[two] two" && ! has err.txt "[one] one"'
printf 'build:\n  tasks:\n    - include: part.yml\n      only_if: "false"\n' > incbad.yml
w -c incbad.yml
t include-other-key-error sh -c '[ "$rc" = 2 ] && has err.txt "incbad.yml:4:7: \"include\" takes only \"name\" and \"description\" beside it, not \"only_if\""'

# -- walter 2: a serial/parallel group that also has command: the command
#    is ignored, with a warning
printf 'build:\n  tasks:\n    - name: g\n      command: touch group-command-ran\n      serial:\n        - name: k\n          command: touch kid-ran\n' > gc.yml
w -c gc.yml
t group-command-ignored sh -c '[ "$rc" = 0 ] && [ -e kid-ran ] && [ ! -e group-command-ran ] &&
  has err.txt "gc.yml:3:7: warning: \"command\" is ignored: \"g\" is a serial group (as in walter 2)"'
# (a 1.x stage with children runs its own command first, as 1.x did)
printf 'pipeline:\n  - name: g\n    command: touch own-ran\n    parallel:\n      - name: k\n        command: "true"\n' > d1g.yml
w -c d1g.yml
t d1-stage-command-runs sh -c '[ "$rc" = 0 ] && [ -e own-ran ] && ! has err.txt "is ignored"'

# -- walter 0.x README: stage_type shell_script with shell_script: FILE
printf 'echo "script ran in $(pwd)"\n' > job.sh
printf 'pipeline:\n  - stage_name: s\n    stage_type: shell_script\n    shell_script: job.sh\n' > ss.yml
w -c ss.yml
t shell-script-key sh -c '[ "$rc" = 0 ] && has err.txt "[s] script ran in $PWD" &&
  has err.txt "note: \"shell_script\" is deprecated, please use \"type: shell\" and \"file\" instead"'
w -check -c ss.yml
t shell-script-check-ok [ "$rc" = 0 ]
printf 'pipeline:\n  - name: s\n    shell_script: job.sh\n' > ss2.yml
w -c ss2.yml
t shell-script-key-alone sh -c '[ "$rc" = 0 ] && has err.txt "[s] script ran in"'

# -- a shell stage's file is found from walter's directory (as the original
#    did), and it runs in "directory"
mkdir -p sub
printf 'echo "sub copy"\n' > sub/job.sh
printf 'pipeline:\n  - name: s\n    type: shell\n    file: job.sh\n    directory: sub\n' > sd.yml
w -c sd.yml
t shell-file-from-cwd sh -c '[ "$rc" = 0 ] && has err.txt "[s] script ran in $PWD/sub" && ! has err.txt "sub copy"'
printf 'pipeline:\n  - name: s\n    type: shell\n    file: only-in-sub.sh\n    directory: sub\n' > sd2.yml
printf 'echo x\n' > sub/only-in-sub.sh
w -c sd2.yml
t shell-file-missing-from-cwd sh -c '[ "$rc" = 1 ] && has err.txt "file: only-in-sub.sh does not exist"'
