# Engine, walter 2 files: phases, groups, stdin piping, include, abort.
. "$top/tests/sys/lib.sh"

cp "$top/examples/d2.yml" d2.yml
w -c d2.yml
t d2-default-build-only sh -c '[ "$rc" = 0 ] && has err.txt "Build started" && ! has err.txt "Deploy started" && has err.txt "the deploy phase needs -deploy"'
t d2-stdin-piped has err.txt "[tag] v1.2.3"
t d2-group-logged sh -c 'has err.txt "[checks] Start task" && has err.txt "[unit] End task" && has err.txt "[checks] End task"'
t d2-serial-order sh -c '[ $(grep -n "\[compile\] End task" err.txt | cut -d: -f1) -lt $(grep -n "\[test\] Start task" err.txt | cut -d: -f1) ]'
t d2-build-cleanup has err.txt "[tidy] tidy"
w -c d2.yml -build -deploy
t d2-both sh -c '[ "$rc" = 0 ] && has err.txt "[ship] shipping" && has err.txt "Deploy cleanup succeeded" && [ $(grep -n "Build cleanup succeeded" err.txt | cut -d: -f1) -lt $(grep -n "Deploy started" err.txt | cut -d: -f1) ]'
w -c d2.yml -deploy
t d2-deploy-only sh -c '[ "$rc" = 0 ] && has err.txt "[ship] shipping" && ! has err.txt "Build started"'

# -- a bare list is the build tasks; -deploy on it is an error
printf -- '- name: only\n  command: echo bare\n' > bare.yml
w -c bare.yml -build
t bare-list sh -c '[ "$rc" = 0 ] && has err.txt "[only] bare"'
w -c bare.yml -deploy
t deploy-missing sh -c '[ "$rc" = 2 ] && has err.txt "has no deploy section"'

# -- a failed build stops before deploy; its cleanup still runs
cat > bf.yml <<'Y'
build:
  tasks:
    - name: boom
      command: exit 2
    - name: after
      command: touch after-ran
  cleanup:
    - name: bc
      command: touch build-cleanup-ran
deploy:
  tasks:
    - name: ship
      command: touch deploy-ran
Y
w -c bf.yml -build -deploy
t build-fail-exit1 [ "$rc" = 1 ]
t build-fail-no-deploy sh -c '[ ! -e deploy-ran ] && [ ! -e after-ran ] && [ -e build-cleanup-ran ]'
t build-fail-log sh -c 'has err.txt "ERROR [boom] Task failed: exit status 2" && has err.txt "ERROR Build failed"'

# -- abort: a failure stops a sleeping sibling quickly (SIGTERM to its group)
cat > abort.yml <<'Y'
build:
  tasks:
    - name: both
      parallel:
        - name: sleeper
          command: touch started; exec sleep 30
        - name: failer
          command: while [ ! -e started ]; do sleep 0.01; done; exit 1
Y
s=$(date +%s)
w -c abort.yml
e=$(($(date +%s) - s))
t abort-exit1 [ "$rc" = 1 ]
t abort-quick [ "$e" -lt 5 ]
t abort-logged has err.txt " WARN [sleeper] aborted"
t abort-group-failed has err.txt "ERROR [both] Task failed"

# -- a task that ignores SIGTERM is killed after the grace period
cat > stubborn.yml <<'Y'
build:
  tasks:
    - name: both
      parallel:
        - name: stubborn
          command: trap "" TERM; touch trapped; sleep 30 & wait; sleep 30
        - name: failer
          command: while [ ! -e trapped ]; do sleep 0.01; done; exit 1
Y
s=$(date +%s)
w -c stubborn.yml
e=$(($(date +%s) - s))
t grace-then-kill sh -c "[ $rc = 1 ] && [ $e -ge 4 ] && [ $e -lt 12 ]"

# -- stdin: parallel = children's output concatenated in order; serial = last
cat > pipe.yml <<'Y'
- name: g
  parallel:
    - name: a
      command: while [ ! -e b.done ]; do sleep 0.01; done; echo A
    - name: b
      command: echo B; touch b.done
- name: cat
  command: cat
- name: s
  serial:
    - name: s1
      command: echo first
    - name: s2
      command: echo second
- name: cat2
  command: cat
Y
w -c pipe.yml -build
t stdin-parallel-concat sh -c 'grep "\[cat\]" err.txt | grep -v "task" | sed "s/.*\] //" | tr "\n" " " | grep -q "^A B $"'
t stdin-serial-last sh -c 'grep "\[cat2\]" err.txt | grep -v "task" | sed "s/.*\] //" | tr "\n" " " | grep -q "^second $"'

# -- include: spliced at load time; missing include and cycles are errors
printf -- '- name: inc1\n  command: echo from include\n' > inc.yml
printf 'build:\n  tasks:\n    - include: inc.yml\n    - name: after\n      command: echo after\n' > main.yml
w -c main.yml -build
t include-runs sh -c '[ "$rc" = 0 ] && has err.txt "[inc1] from include" && has err.txt "[after] after"'
printf 'build:\n  tasks:\n    - include: nope.yml\n' > miss.yml
w -c miss.yml -build
t include-missing sh -c '[ "$rc" = 2 ] && has err.txt "walter: miss.yml:3:16: include nope.yml: No such file or directory"'
printf -- '- include: cyc2.yml\n' > cyc1.yml
printf -- '- include: cyc1.yml\n' > cyc2.yml
printf 'build:\n  tasks:\n    - include: cyc1.yml\n' > cyc.yml
w -c cyc.yml -build
t include-cycle sh -c '[ "$rc" = 2 ] && has err.txt "include cycle"'
printf 'build:\n  tasks:\n    - include: "$INCDIR/inc.yml"\n' > incvar.yml
INCDIR=. "$WALTER" -c incvar.yml -build >/dev/null 2>err.txt
t include-substituted has err.txt "[inc1] from include"
# the same file twice: both copies run; a broken one is reported once
printf 'build:\n  tasks:\n    - include: inc.yml\n    - include: inc.yml\n' > twice.yml
w -c twice.yml -build
t include-twice-runs-twice sh -c '[ "$rc" = 0 ] && [ "$(grep -c "\[inc1\] from include" err.txt)" = 2 ]'
printf -- '- name: [\n' > broken.yml
printf 'build:\n  tasks:\n    - include: broken.yml\n    - include: broken.yml\n' > btwice.yml
w -c btwice.yml -build
t include-broken-said-once sh -c '[ "$rc" = 2 ] && [ "$(grep -c "broken.yml" err.txt)" = 1 ]'
# includes are bounded like aliases: a file that includes the next one
# twice, 30 levels deep (2^30 tasks), fails at once with a located error
# (under 2 GB of memory and 30 s, which it took minutes and gigabytes to
# reach before; no memory limit under a sanitizer or an emulator, which
# reserve address space of their own)
printf -- '- name: t\n  command: "true"\n' > lvl0.yml
i=1; while [ $i -le 30 ]; do printf -- '- include: lvl%d.yml\n- include: lvl%d.yml\n' $((i - 1)) $((i - 1)) > lvl$i.yml; i=$((i + 1)); done
printf 'build:\n  tasks:\n    - include: lvl30.yml\n' > bomb.yml
(if [ -z "$WALTER_SANITIZED$WALTER_EMU" ]; then ulimit -v 2000000; fi
	timeout 30 "$WALTER" -check -c bomb.yml) >out.txt 2>err.txt </dev/null; rc=$?
t include-bomb-bounded sh -c '[ "$rc" = 2 ] && grep -qE "^walter: lvl[0-9]+\.yml:[0-9]+:[0-9]+: more than 1000000 tasks and includes after expanding includes" err.txt &&
	[ "$(wc -l < err.txt)" = 1 ]'

# -- a failed task inside an include fails the phase (not ignored)
printf -- '- name: bad\n  command: exit 1\n' > incbad.yml
printf 'build:\n  tasks:\n    - include: incbad.yml\n    - name: next\n      command: touch next-ran\n' > ib.yml
w -c ib.yml -build
t include-failure-counts sh -c '[ "$rc" = 1 ] && [ ! -e next-ran ]'

# -- groups after a failure are skipped like tasks
cat > gskip.yml <<'Y'
- name: bad
  command: exit 1
- name: grp
  parallel:
    - name: inner
      command: touch inner-ran
Y
w -c gskip.yml
t group-skipped sh -c '[ "$rc" = 1 ] && [ ! -e inner-ran ] && has err.txt "[grp] Task skipped because previous task failed"'
