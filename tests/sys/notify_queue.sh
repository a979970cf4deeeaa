# Notifications never hurt the run: the exec notifier's command keeps
# $VAR for the shell (no secret on a command line); the exec notifier is
# event-driven (every event arrives, the run ends right after its last
# task); the queue to a slow receiver is bounded (oldest task messages
# dropped, the summary never, one line saying how many; walter stays
# small).
. "$top/tests/sys/lib.sh"
. "$top/tests/sys/notify.lib"

# ---- no secret on the exec command line ------------------------------------
# The command waits for a file the test makes once it has looked at every
# process's command line (bounded by the notifier's timeout; no other $
# in it, which walter 2.1.0 would have substituted too).
cat > sec.yml <<'Y'
notify:
  - type: exec
    command: echo "$R11_API_TOKEN" > val.txt; while [ ! -e go ]; do sleep 0.01; done
pipeline:
  - name: a
    command: "true"
Y
secret=walter-r11-secret-$$
R11_API_TOKEN=$secret "$WALTER" -c sec.yml >out.txt 2>err.txt </dev/null &
wp=$!
wait_file val.txt
seen=0
for d in /proc/[0-9]*; do
	tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q -- "$secret" && seen=$((seen + 1))
done
: > go
wait $wp; rc=$?
eq exec-secret-not-on-cmdline "$seen" 0
eq exec-secret-from-env "$rc $(cat val.txt)" "0 $secret"
c exec-secret-not-logged '! grep -q "$secret" err.txt'
