# Every configuration error: a located message and exit status 2.
. "$top/tests/sys/lib.sh"

# err NAME EXPECTED-TEXT YAML: walter must exit 2 and print EXPECTED-TEXT.
err() {
	printf '%b' "$3" > "$1.yml"
	"$WALTER" -c "$1.yml" >out.txt 2>err.txt </dev/null; r=$?
	if [ $r = 2 ] && grep -qF -- "$2" err.txt; then echo "ok $1"
	else echo "FAIL $1: exit $r, stderr: $(head -3 err.txt | tr '\n' ' ')"; fi
}

err no-file-at-all 'walter: no-file-at-all.yml:1:1: no pipeline, build or deploy section' 'x'
rm -f none.yml
"$WALTER" -c none.yml 2>err.txt; r=$?
t missing-config sh -c "[ $r = 2 ] && has err.txt 'walter: none.yml: No such file or directory'"
err empty-file 'walter: empty-file.yml: no pipeline, build or deploy section' ''
err neither 'walter: neither.yml:1:1: no pipeline, build or deploy section' 'foo: 1\n'
err both 'walter: both.yml:1:1: ambiguous configuration (both pipeline and build/deploy)' 'pipeline: []\nbuild: {tasks: []}\n'
err pipeline-null 'walter: pipeline-null.yml:1:10: no pipeline block in the input file' 'pipeline:\n'
err pipeline-scalar 'walter: pipeline-scalar.yml:1:11: "pipeline" must be a list of stages' 'pipeline: echo\n'
err stage-not-map 'walter: stage-not-map.yml:2:5: a stage must be a mapping' 'pipeline:\n  - echo hi\n'
err bad-type "walter: bad-type.yml:3:11: No specified stage type: 'python'" 'pipeline:\n  - name: a\n    type: python\n'
err shell-no-file 'a shell stage needs "file"' 'pipeline:\n  - name: a\n    type: shell\n'
err command-map 'walter: command-map.yml:3:14: "command" must be a string or a non-empty list' 'pipeline:\n  - name: a\n    command: {x: 1}\n'
err name-list 'walter: name-list.yml:2:11: "name" must be a string, not a list' 'pipeline:\n  - name: [a]\n'
err bad-bool 'walter: bad-bool.yml:3:19: "suppress_all" must be true or false' 'pipeline:\n  - name: a\n    suppress_all: maybe\n'
err bad-timeout '"timeout" must be a duration' 'pipeline:\n  - name: a\n    timeout: soon\n'
err bad-retry '"retry" must be a whole number' 'pipeline:\n  - name: a\n    retry: -1\n'
err bad-env '"env" must be a mapping' 'pipeline:\n  - name: a\n    env: [A]\n'
err bad-env-name 'is not a valid environment variable name' 'pipeline:\n  - name: a\n    env: {"1A": x}\n'
err messenger-type 'walter: messenger-type.yml:2:9: no messenger type: carrier-pigeon' 'messenger:\n  type: carrier-pigeon\npipeline: []\n'
err notify-not-list '"notify" must be a list of notifiers' 'notify: {type: slack}\nbuild: {tasks: []}\n'
err build-scalar '"build" must be a mapping with "tasks" and "cleanup"' 'build: 3\n'
err yaml-syntax 'walter: yaml-syntax.yml:2:' 'pipeline:\n  - name: "unterminated\n'
err yaml-tab 'walter: yaml-tab.yml:' 'pipeline:\n\t- name: a\n'
err two-docs 'a pipeline file holds one YAML document' 'pipeline: []\n---\npipeline: []\n'
err merge-bad 'a merge key (<<) takes a mapping' 'pipeline:\n  - <<: 3\n    name: a\n'
err parallel-and-serial 'cannot have both "parallel" and "serial"' 'build:\n  tasks:\n    - name: g\n      parallel: []\n      serial: []\n'
err include-not-only '"include" takes only "name" and "description" beside it, not "command"' 'build:\n  tasks:\n    - include: x.yml\n      command: y\n'

# tags: the config layer rejects one it does not understand, never runs the
# text behind it, and keeps the core schema's tags
err tag-vault 'walter: tag-vault.yml:3:21: tag !vault is not supported' 'pipeline:\n  - name: a\n    command: !vault touch ran\n'
t tag-vault-not-run [ ! -e ran ]
err tag-reference 'walter: tag-reference.yml:3:25: tag !reference is not supported' 'build:\n  - name: a\n    command: !reference [.x, y]\n'
err tag-key 'walter: tag-key.yml:2:14: tag !!binary is not supported' 'pipeline:\n  - !!binary bmFtZQ==: a\n'
err tag-global 'tag !<tag:vault.example,2024:secret> is not supported' 'pipeline:\n  - name: a\n    env: {K: !<tag:vault.example,2024:secret> x}\n'
err tag-handle 'walter: tag-handle.yml:4:18: tag !<tag:vault.example,2024:key> is not supported' '%TAG !v! tag:vault.example,2024:\n---\npipeline:\n  - name: !v!key a\n'
printf -- '- name: inc\n  command: !env HOME\n' > tagged-inc.yml
err tag-in-include 'walter: tagged-inc.yml:2:17: tag !env is not supported' 'build:\n  tasks:\n    - include: tagged-inc.yml\n'
printf 'pipeline:\n  - name: !!str a\n    command: !!str echo core\n    retry: !!int 1\n    timeout: !!float 9\n    suppress_all: !!bool false\n    directory: !!null\n    env: !!map {K: ! v}\n' > core-tags.yml
w -c core-tags.yml
t tag-core-accepted sh -c '[ "$rc" = 0 ] && has err.txt "[a] core"'

# unknown keys: a located warning with a did-you-mean, not an error
printf 'pipeline:\n  - name: a\n    comand: echo hi\n' > typo.yml
w -c typo.yml
t unknown-key-warns sh -c '[ "$rc" = 0 ] && has err.txt "walter: typo.yml:3:5: warning: unknown key \"comand\" in a stage (did you mean \"command\"?)"'
# ... and an error under -check
w -check -c typo.yml
t unknown-key-check-error [ "$rc" = 2 ]
printf 'pipeline:\n  - name: a\n    command: "true"\n' > good.yml
w -check -c good.yml
t check-ok sh -c '[ "$rc" = 0 ] && has out.txt "good.yml: ok"'

# stdin as the config
printf 'pipeline:\n  - name: from stdin\n    command: echo piped\n' | "$WALTER" -c - 2>err.txt; r=$?
t config-stdin sh -c "[ $r = 0 ] && has err.txt '[from stdin] piped'"
printf 'pipeline:\n  - nam: x\n' | "$WALTER" -c - 2>err.txt
t config-stdin-located has err.txt 'walter: <stdin>:2:5: warning: unknown key "nam"'

# usage errors
w -jobs 0
t bad-jobs sh -c '[ "$rc" = 2 ] && has err.txt "invalid -jobs 0"'
w -timeout never
t bad-timeout-flag [ "$rc" = 2 ]
w -mode weird
t bad-mode [ "$rc" = 2 ]
w -c good.yml -mode service
t service-without-block-runs-locally sh -c '[ "$rc" = 0 ] && has err.txt "has no service block of type github: running locally"'
w -c good.yml extra
t positional-arg [ "$rc" = 2 ]
