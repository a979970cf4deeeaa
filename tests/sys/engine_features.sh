# Engine features: only_if, wait_for, special variables, directory, shell
# stages, require/call, env, argv commands, timeout, retry, substitution.
. "$top/tests/sys/lib.sh"

# -- only_if false: not a failure, logged, the rest goes on
cat > oi.yml <<'Y'
pipeline:
  - name: never
    only_if: exit 7
    command: touch never-ran
  - name: next
    command: touch next-ran
Y
w -c oi.yml
t only-if-false sh -c '[ "$rc" = 0 ] && [ ! -e never-ran ] && [ -e next-ran ] && has err.txt " WARN [never] Skipped because only_if failed: exit status 7"'

# -- wait_for a file that another task creates later
cat > wf.yml <<'Y'
pipeline:
  - name: both
    parallel:
      - name: maker
        command: i=0; while ! grep -q "file made present" err.txt && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; touch made
      - name: waiter
        wait_for: file=made state=present
        command: echo saw it
Y
w -c wf.yml
t wait-file sh -c '[ "$rc" = 0 ] && has err.txt "[waiter] wait_for: file made present" && has err.txt "[waiter] saw it"'

# -- wait_for a TCP port (mapping form), with a timeout when it never opens
port=$(free_port)
cat > wp.yml <<Y
build:
  tasks:
    - name: both
      parallel:
        - name: server
          command: i=0; while ! grep -q "127.0.0.1:$port ready" err.txt && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; exec python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",$port)); s.listen(); time.sleep(3)'
        - name: client
          wait_for: {host: 127.0.0.1, port: $port, state: ready, timeout: 10}
          command: echo port is open
Y
w -c wp.yml -build
t wait-port sh -c '[ "$rc" = 0 ] && has err.txt "[client] port is open"'
port2=$(free_port)
printf 'pipeline:\n  - name: w\n    wait_for: host=127.0.0.1 port=%s state=ready timeout=0.5\n    command: "true"\n' "$port2" > wt.yml
w -c wt.yml
t wait-timeout sh -c '[ "$rc" = 1 ] && has err.txt "[w] Task failed: wait_for timed out after 0.5s"'
printf 'pipeline:\n  - name: d\n    wait_for: delay=0.3\n    command: "true"\n' > wd.yml
s=$(date +%s%N); w -c wd.yml; e=$((($(date +%s%N) - s) / 1000000))
t wait-fractional-delay sh -c "[ $rc = 0 ] && [ $e -ge 300 ]"

# -- wait_for errors at load time with the original messages
printf 'pipeline:\n  - name: w\n    wait_for: port=80 file=x state=ready\n    command: "true"\n' > we.yml
w -c we.yml
t wait-invalid sh -c '[ "$rc" = 2 ] && has err.txt "walter: we.yml:3:15: wait_for: cannot use port and file at the same time"'
printf 'pipeline:\n  - name: w\n    wait_for: host=h port=80 state=open\n' > ws.yml
w -c ws.yml
t wait-bad-state sh -c '[ "$rc" = 2 ] && has err.txt "wait_for: state does not support open"'
printf 'pipeline:\n  - name: w\n    wait_for: host=h colour=red\n' > wk.yml
w -c wk.yml
t wait-bad-key sh -c '[ "$rc" = 2 ] && has err.txt "No wait_for property such as: colour"'

# -- special variables
cat > sv.yml <<'Y'
pipeline:
  - name: stage one
    command: echo "hello world"; echo oops >&2
  - name: stage_2
    command: echo out=$__OUT__stage_one__ x=__OUT["stage one"] err=__ERR["stage one"] res=__RESULT["stage one"]
  - name: stage_3
    command: printf '%s' "__COMBINED["stage one"]" | tr '\n' '|'; echo
Y
w -c sv.yml
t special-out has err.txt '[stage_2] out=hello world x=hello world err=oops res=true'
t special-combined sh -c 'grep -qE "\[stage_3\] (hello world\|oops\||oops\|hello world\|)$" err.txt'

# -- directory, and a directory that does not exist fails the task cleanly
mkdir sub
printf 'pipeline:\n  - name: here\n    directory: sub\n    command: pwd\n  - name: gone\n    directory: /nonexistent/dir\n    command: "true"\n' > dir.yml
w -c dir.yml
t directory sh -c 'grep -q "\[here\] .*/sub$" err.txt'
t directory-missing sh -c '[ "$rc" = 1 ] && has err.txt "[gone] Task failed: cannot change directory to /nonexistent/dir: No such file or directory"'
# "__" in a directory is just a name; a special variable there is an error
mkdir a__b
printf 'pipeline:\n  - name: us\n    directory: a__b\n    command: pwd\n' > dus.yml
w -c dus.yml
t directory-underscores sh -c '[ "$rc" = 0 ] && grep -q "\[us\] .*/a__b$" err.txt'
printf 'pipeline:\n  - name: a\n    command: "true"\n  - name: sv\n    directory: __OUT["a"]\n    command: pwd\n' > dsv.yml
w -c dsv.yml
t directory-special sh -c '[ "$rc" = 2 ] && has err.txt "dsv.yml:5:16: special variables are not available in directory"'

# -- shell stages run "sh FILE"; a missing file fails the stage
printf 'echo from script "$0"\n' > s.sh
printf 'pipeline:\n  - name: sc\n    type: shell\n    file: s.sh\n  - name: missing\n    type: shell\n    file: none.sh\n' > sh.yml
w -c sh.yml
t shell-stage has err.txt "[sc] from script s.sh"
t shell-missing sh -c '[ "$rc" = 1 ] && has err.txt "[missing] Task failed: file: none.sh does not exist"'

# -- require / call
mkdir conf
cat > conf/mystages.yml <<'Y'
namespace: mypackage
stages:
  - def:
      name: hello
      command: echo "May I help you majesty!"
  - def:
      name: goodbye
      command: echo "Goodbye majesty."
Y
printf 'require:\n  - conf/mystages.yml\npipeline:\n  - call: mypackage::hello\n  - call: mypackage::goodbye\n    directory: conf\n' > req.yml
w -c req.yml
t require-call sh -c '[ "$rc" = 0 ] && has err.txt "[mypackage::hello] May I help you majesty!" && has err.txt "[mypackage::goodbye] Goodbye majesty."'
printf 'require:\n  - conf/mystages.yml\npipeline:\n  - call: mypackage::nope\n' > req2.yml
w -c req2.yml
t call-unknown sh -c '[ "$rc" = 2 ] && has err.txt "walter: req2.yml:4:11: mypackage::nope is not registered"'
printf 'require:\n  - conf/mystages.yml\npipeline:\n  - call: mypackage::hello\n    command: echo mine\n' > req3.yml
w -c req3.yml
t call-override sh -c '[ "$rc" = 2 ] && has err.txt "overriding required stage is forbidden"'
printf 'require:\n  - conf/absent.yml\npipeline: []\n' > req4.yml
w -c req4.yml
t require-missing sh -c '[ "$rc" = 2 ] && has err.txt "require conf/absent.yml: No such file or directory"'

# -- env, argv commands (no shell), timeout, retry
cat > new.yml <<'Y'
pipeline:
  - name: envy
    env: {GREETING: hi there}
    command: echo "$GREETING"
  - name: argv
    command: [printf, "%s|%s\n", "a b", "$HOME"]
Y
w -c new.yml
t env-key has err.txt "[envy] hi there"
t argv-no-shell has err.txt '[argv] a b|$HOME'
printf 'pipeline:\n  - name: slow\n    timeout: 0.3s\n    command: sleep 10\n' > to.yml
s=$(date +%s); w -c to.yml; e=$(($(date +%s) - s))
t task-timeout sh -c "[ $rc = 1 ] && [ $e -lt 4 ] && has err.txt '[slow] Task failed: timed out after 0.3s'"
printf 'pipeline:\n  - name: flaky\n    retry: 2\n    retry_delay: 0.1\n    command: n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; [ $n -ge 3 ]\n' > rt.yml
w -c rt.yml
t retry-succeeds sh -c '[ "$rc" = 0 ] && [ "$(cat n)" = 3 ] && [ "$(grep -c "attempt . failed" err.txt)" = 2 ]'
printf 'pipeline:\n  - name: nf\n    command: [no-such-program-xyz]\n' > nf.yml
w -c nf.yml
t argv-not-found sh -c '[ "$rc" = 1 ] && has err.txt "command not found: no-such-program-xyz"'

# -- $NAME substitution in directory; unknown variables warn
printf 'pipeline:\n  - name: d\n    directory: ${MYDIR}\n    command: pwd\n  - name: u\n    directory: $NOPE_NOT_SET/.\n    command: "true"\n' > subst.yml
MYDIR=sub "$WALTER" -c subst.yml >/dev/null 2>err.txt; rc=$?
t subst-directory sh -c 'grep -q "\[d\] .*/sub$" err.txt'
t subst-unknown-warns has err.txt 'walter: subst.yml:6:16: warning: NO environment variable: $NOPE_NOT_SET'

# -- booleans YAML 1.1 style; report_full_output: false is false
printf 'pipeline:\n  - name: b\n    report_full_output: no\n    suppress_all: On\n    command: "true"\n' > yb.yml
w -c yb.yml
t yaml11-booleans [ "$rc" = 0 ]
printf 'pipeline:\n  - name: y\n    command: echo named\n' > ny.yml
w -c ny.yml
t scalar-name-y has err.txt "[y] named"
