# Engine: the example pipelines, order, skip, cleanup, -f, exit codes, log shape.
. "$top/tests/sys/lib.sh"

# -- the seed pipeline, verbatim, from examples/
cp "$top/examples/seed.yml" seed.yml
w -c seed.yml
t seed-exit0 [ "$rc" = 0 ]
t seed-order sh -c 'grep -n "hello, world" err.txt | head -1 | grep -q "\[command_stage_1\] hello, world$"'
t seed-children-after-parent sh -c '
  p=$(grep -n "\[command_stage_1\] End task" err.txt | cut -d: -f1)
  c=$(grep -n "\[command_stage_2_group_1\] Start task" err.txt | cut -d: -f1)
  l=$(grep -n "\[command_stage_4\] Start task" err.txt | cut -d: -f1)
  c3=$(grep -n "\[command_stage_3_group_1\] End task" err.txt | cut -d: -f1)
  [ -n "$p" ] && [ "$p" -lt "$c" ] && [ "$c3" -lt "$l" ]'
t seed-deprecation-hints sh -c 'grep -q "\"stage_name\" is deprecated, please use \"name\" instead" err.txt &&
  grep -q "\"stage_type\" is deprecated, please use \"type\"" err.txt &&
  grep -q "\"run_after\" is deprecated, please use \"parallel\"" err.txt &&
  [ "$(grep -c deprecated err.txt)" = 3 ]'
t seed-note-located has err.txt "walter: seed.yml:5:5: note: \"stage_name\" is deprecated"
t log-shape sh -c 'grep -qE "^[0-9]{2}:[0-9]{2}:[0-9]{2}  INFO \[command_stage_4\] hello, world, command_stage_4$" err.txt'
t phase-lines sh -c 'grep -q " INFO Pipeline started$" err.txt && grep -qE " INFO Pipeline succeeded \([0-9.]+s\)$" err.txt &&
  grep -q " INFO Pipeline cleanup started$" err.txt'
t summary sh -c 'grep -qE "Summary: 4 tasks: 4 succeeded, 0 failed" err.txt'
t stdout-empty [ ! -s out.txt ]

# -- failure: later stages skipped, children of a failed stage skipped, cleanup runs
cat > fail.yml <<'Y'
pipeline:
  - name: first
    command: echo one
  - name: broken
    command: echo about to fail; exit 3
    parallel:
      - name: child
        command: touch child-ran
  - name: after
    command: touch after-ran
cleanup:
  - name: clean
    command: touch cleanup-ran
Y
w -c fail.yml
t fail-exit1 [ "$rc" = 1 ]
t fail-logged has err.txt "ERROR [broken] Task failed: exit status 3"
t fail-skip-after has err.txt " WARN [after] Task skipped because previous task failed"
t fail-skip-child has err.txt " WARN [child] Task skipped because previous task failed"
t fail-not-run sh -c '[ ! -e after-ran ] && [ ! -e child-ran ]'
t fail-cleanup-ran [ -e cleanup-ran ]
t fail-tail sh -c 'grep -q "Last lines of broken:" err.txt && grep -q "| about to fail" err.txt'

# -- -f runs everything despite the failure, still exit 1
rm -f after-ran child-ran cleanup-ran
w -f -c fail.yml
t force-exit1 [ "$rc" = 1 ]
t force-ran-all sh -c '[ -e after-ran ] && [ -e child-ran ] && [ -e cleanup-ran ]'

# -- a failing cleanup fails the run
printf 'pipeline:\n  - name: ok\n    command: "true"\ncleanup:\n  - name: c\n    command: exit 4\n' > cf.yml
w -c cf.yml
t cleanup-failure-exit1 [ "$rc" = 1 ]

# -- a failing parallel child in the last stage gives exit 1, every time
cat > lastpar.yml <<'Y'
pipeline:
  - name: ok
    command: "true"
  - name: group
    parallel:
      - name: a
        command: "true"
      - name: b
        command: exit 1
      - name: c
        command: sleep 0.01
Y
bad=0; i=0
while [ $i -lt 20 ]; do "$WALTER" -c lastpar.yml 2>/dev/null; [ $? = 1 ] || bad=$((bad + 1)); i=$((i + 1)); done
t last-parallel-child-fails-20x [ "$bad" = 0 ]

# -- duplicate names never hide a failure (results belong to nodes)
cat > dup.yml <<'Y'
pipeline:
  - name: same
    command: "true"
  - name: group
    parallel:
      - name: same
        command: exit 1
  - name: later
    command: touch later-ran
Y
w -c dup.yml
t duplicate-names-exit1 [ "$rc" = 1 ]
t duplicate-names-skip [ ! -e later-ran ]

# -- parallel output: whole lines, never two tasks in one line, nothing dropped
cat > mix.yml <<'Y'
pipeline:
  - name: g
    parallel:
      - name: x
        command: i=0; while [ $i -lt 2000 ]; do echo "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx $i"; i=$((i+1)); done
      - name: y
        command: i=0; while [ $i -lt 2000 ]; do echo "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy $i" >&2; i=$((i+1)); done
Y
w -c mix.yml
t parallel-lines-x [ "$(grep -cE '\[x\] x{40} [0-9]+$' err.txt)" = 2000 ]
t parallel-lines-y [ "$(grep -cE '\[y\] y{40} [0-9]+$' err.txt)" = 2000 ]
t parallel-no-mixing sh -c '! grep -E "x.*y{10}|y.*x{10}" err.txt'

# -- a line without a final newline is still logged; a very long line is split
printf 'pipeline:\n  - name: n\n    command: printf "no newline"\n  - name: long\n    command: head -c 200000 /dev/zero | tr "\\\\0" a\n' > nl.yml
w -c nl.yml
t last-partial-line has err.txt "[n] no newline"
t long-line-split sh -c '[ "$(grep -c "\[long\] aaaa" err.txt)" -ge 3 ] && [ "$(grep "\[long\] a" err.txt | sed "s/.*\] //" | tr -d "\n" | wc -c)" = 200000 ]'

# -- version and help
w -version
t version sh -c '[ "$rc" = 0 ] && grep -q "^walter version " out.txt'
w -v
t version-v [ "$rc" = 0 ]
w -h
t help-exit0 sh -c '[ "$rc" = 0 ] && grep -q "usage: walter" out.txt'
w -nosuchflag
t unknown-flag sh -c '[ "$rc" = 2 ] && grep -q "flag provided but not defined: -nosuchflag" err.txt && grep -q usage err.txt'
w --c=seed.yml -threshold=WARN
t go-style-flags sh -c '[ "$rc" = 0 ] && ! grep -q " INFO " err.txt'
w -c=seed.yml -color always
t color-always sh -c 'grep -q "$(printf "\033")\[34m INFO" err.txt'
NO_COLOR=1 "$WALTER" -c seed.yml 2>err.txt
t no-color-on-pipe sh -c '! grep -q "$(printf "\033")" err.txt'

# -- the walter 1.x README sample (examples/d1.yml)
cp "$top/examples/d1.yml" d1.yml
w -c d1.yml
t d1-example-exit0 [ "$rc" = 0 ]
t d1-special-variable sh -c '[ "$(grep -c "\] hello world$" err.txt)" = 2 ] && has err.txt "[stage_2] hello world"'
t d1-parallel has err.txt "[parallel command 2] two"
t d1-cleanup has err.txt "[cleanup] cleaning up"
