# Time: the loop never blocks and never sleeps past a deadline. -timeout
# ends the run on time during a retry_delay, a wait_for and a DNS lookup
# that never answers; the cleanup after an abort is bounded by
# -cleanup-timeout; a signal during cleanup lets it finish. Durations
# are walter's own (its summary line), with margins far below the
# seconds the old loop lost (a lookup that never answers took 5 s and more:
# those bounds are 2.5 s, for a loaded machine).
. "$top/tests/sys/lib.sh"

# took: the run's duration from the summary line of err.txt, in 1/100 s
took() {
	sed -n 's/.*Summary: .*(\([0-9]*\)\.\([0-9]*\)s)$/\1\2/p' err.txt | tail -1 | sed 's/^0*//; s/^$/0/'
}

# ---- -timeout is exact during a retry_delay and a wait_for --------------
printf 'pipeline:\n  - name: r\n    command: "false"\n    retry: 3\n    retry_delay: 10s\n' > retry.yml
w -c retry.yml -timeout 1
t timeout-during-retry-delay sh -c '[ $rc = 124 ] && [ $(took) -ge 100 ] && [ $(took) -lt 140 ]'
printf 'pipeline:\n  - name: w\n    wait_for:\n      file: ./never\n      state: present\n' > wfile.yml
w -c wfile.yml -timeout 1
t timeout-during-wait-for sh -c '[ $rc = 124 ] && [ $(took) -ge 100 ] && [ $(took) -lt 140 ]'
# a wait_for timeout that ends the list ends the run then, not a second later
printf 'pipeline:\n  - name: w\n    wait_for:\n      file: ./never\n      state: present\n      timeout: 0.5\n' > wend.yml
w -c wend.yml
t wait-for-timeout-ends-list sh -c '[ $rc = 1 ] && [ $(took) -ge 50 ] && [ $(took) -lt 90 ] &&
	grep -qE "Pipeline failed \(0\.[5-8][0-9]s\)" err.txt'

# ---- -cleanup-timeout -----------------------------------------------------
printf 'pipeline:\n  - name: long\n    command: sleep 30\ncleanup:\n  - name: c\n    command: sleep 4; touch cleaned\n  - name: after\n    command: touch after\n' > ct.yml
w -c ct.yml -timeout 1 -cleanup-timeout 1
t cleanup-timeout-exit sh -c '[ $rc = 124 ] && [ ! -e cleaned ] && [ ! -e after ]'
t cleanup-timeout-bounded sh -c '[ $(took) -ge 200 ] && [ $(took) -lt 280 ]'
t cleanup-timeout-logged sh -c 'has err.txt "ERROR the cleanup took longer than -cleanup-timeout 1.00s: stopping it" &&
	has err.txt "[c] aborted" && has err.txt "WARN Pipeline cleanup aborted"'
# the default budget (5m) lets a short cleanup finish after -timeout
printf 'pipeline:\n  - name: long\n    command: sleep 30\ncleanup:\n  - name: c\n    command: sleep 1; touch cleaned\n' > cd.yml
w -c cd.yml -timeout 0.5
t cleanup-default-budget sh -c '[ $rc = 124 ] && [ -e cleaned ] && has err.txt "Pipeline cleanup succeeded"'
# -timeout expiring during the cleanup: the cleanup goes on within its budget
printf 'pipeline:\n  - name: a\n    command: "true"\ncleanup:\n  - name: c\n    command: sleep 1.5; touch cleaned\n' > cl.yml
rm -f cleaned
w -c cl.yml -timeout 0.5
t timeout-in-cleanup-finishes sh -c '[ $rc = 124 ] && [ -e cleaned ] &&
	has err.txt "the run took longer than -timeout 0.5s: the cleanup may take 5m00s more (-cleanup-timeout)"'
w -c cl.yml -cleanup-timeout 0
t cleanup-timeout-bad-value sh -c '[ $rc = 2 ] && has err.txt "invalid -cleanup-timeout 0"'

# ---- a signal while the cleanup runs lets it finish; a second stops it ------
# sigc FILE LINE...: a cleanup task that TERMs walter, waits until walter
# says it lets the cleanup finish, then runs the LINEs (YAML, as written)
sigc() {
	_f=$1
	shift
	cat > "$_f" <<'Y'
pipeline:
  - name: a
    command: "true"
cleanup:
  - name: c
    command: |
      kill -TERM $PPID
      i=0; while ! grep -q "letting the cleanup finish" err.txt && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
Y
	printf '%s\n' "$@" >> "$_f"
}
sigc sigc.yml '      echo finished'
w -c sigc.yml
t signal-in-cleanup-finishes sh -c '[ $rc = 143 ] && has err.txt "[c] finished" && has err.txt "Pipeline cleanup succeeded"'
sigc sigc2.yml '      kill -TERM $PPID; exec sleep 30' '  - name: d' '    command: touch d-ran'
w -c sigc2.yml
t second-signal-stops-cleanup sh -c '[ $rc = 143 ] && has err.txt "[c] aborted" && [ ! -e d-ran ] && [ $(took) -lt 300 ]'

# ---- wait_for never blocks the loop: a DNS server that never answers ------
# A private mount namespace whose /etc/resolv.conf names a UDP socket on a
# loopback address of this test's own that reads queries and never
# answers (as root, where unshare -m works; CI runs as root).
dns_ok=0
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	a=127.$(($$ % 200 + 20)).$(($$ / 200 % 250 + 1)).53
	python3 - "$a" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
open("dns.ready", "w").close()
end = time.monotonic() + 120
while time.monotonic() < end:
    s.settimeout(1)
    try:
        s.recvfrom(4096)
        open("dns.asked", "w").close()
    except OSError:
        pass
PY
	dnspid=$!
	wait_file dns.ready && echo "nameserver $a" > resolv.test && dns_ok=1
fi
# dw ARGS: walter with that resolver
dw() {
	unshare -m sh -c 'mount --bind resolv.test /etc/resolv.conf && exec "$@"' sh "$WALTER" "$@" \
		>out.txt 2>err.txt </dev/null
}
if [ $dns_ok = 1 ]; then
	cat > dns.yml <<'Y'
pipeline:
  - name: g
    parallel:
      - name: w
        wait_for: host=walter-test.example port=80 state=ready
        command: echo never
      - name: ticker
        command: for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.25; done
Y
	dw -c dns.yml -timeout 1; rc=$?
	t dns-timeout-on-time sh -c '[ $rc = 124 ] && [ $(took) -lt 250 ] && [ -e dns.asked ]'
	# the other task's lines came as they were printed, and it was still
	# running (2 s of ticks) when the run was aborted at 1 s
	t dns-output-not-held sh -c 'grep -n "tick 2\|took longer than -timeout" err.txt | head -1 | grep -q "tick 2" &&
		has err.txt "[ticker] aborted"'
	printf 'pipeline:\n  - name: w\n    wait_for:\n      host: walter-test.example\n      port: 80\n      state: ready\n      timeout: 0.5\n' > dnst.yml
	dw -c dnst.yml; rc=$?
	t dns-wait-for-timeout sh -c '[ $rc = 1 ] && has err.txt "[w] Task failed: wait_for timed out after 0.5s" && [ $(took) -lt 250 ]'
	# SIGTERM is handled at once
	printf 'pipeline:\n  - name: w\n    wait_for: host=walter-test.example port=80 state=ready\n    command: echo never\ncleanup:\n  - name: c\n    command: echo cleaned\n' > dnss.yml
	unshare -m sh -c 'mount --bind resolv.test /etc/resolv.conf && exec "$@"' sh "$WALTER" -c dnss.yml \
		>out.txt 2>err.txt </dev/null &
	wp=$!
	wait_line err.txt "wait_for: walter-test.example:80 ready"
	kill -TERM $wp
	wait $wp; rc=$?
	t dns-signal-at-once sh -c '[ $rc = 143 ] && has err.txt "[c] cleaned" && [ $(took) -lt 250 ]'
	kill $dnspid 2>/dev/null
	wait $dnspid 2>/dev/null
else
	echo "skip dns-*: needs root and unshare -m (a private /etc/resolv.conf)"
fi

# ---- wait_for on a port: a closed port, then one that opens --------------
port=$(free_port)
cat > port.yml <<Y
pipeline:
  - name: g
    parallel:
      - name: w
        wait_for: host=localhost port=$port state=ready
        command: echo port is up
      - name: opener
        command: sleep 0.3; python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",$port)); s.listen(); time.sleep(3)' & touch opened; wait
Y
w -c port.yml -timeout 10
t wait-for-port-opens sh -c '[ $rc = 0 ] && has err.txt "[w] port is up"'
