# Pipelines with notifiers under valgrind (walter and its notification
# worker, which valgrind follows across fork): no errors, no definite
# leaks. Built with glibc, dynamically, as in valgrind.sh.
. "$top/tests/sys/lib.sh"
. "$top/tests/sys/notify.lib"

vg_build notify-valgrind

# vg NAME ARGS...: walter-vg ARGS under memcheck (%p: one log per process);
# ok when every log is empty and walter's exit status is WANT ($want).
vg() {
	_n=$1; shift
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
		--log-file="vg-$_n.%p.txt" ./walter-vg "$@" >/dev/null 2>"vg-$_n.err" </dev/null
	_r=$?
	_logs=$(cat vg-"$_n".*.txt 2>/dev/null)
	if [ "$_r" = "$want" ] && [ -z "$_logs" ] && has "vg-$_n.err" Summary; then echo "ok vg-$_n"
	else echo "FAIL vg-$_n: exit $_r: $(echo "$_logs" | head -5 | tr '\n' ' ')"; fi
}

start vg
cport=$(free_port)
cat > all.yml <<Y
notify:
  - type: slack
    url: http://127.0.0.1:$port/s
    channel: c
  - type: webhook
    url: http://127.0.0.1:$port/w
  - type: exec
    command: cat > /dev/null
  - type: hipchat
    room_id: r
    token: t
    base_url: http://127.0.0.1:$port/v1
  - type: hipchat2
    room_id: r
    token: t
    base_url: http://127.0.0.1:$port/
    summary: true
  - type: webhook
    url: http://127.0.0.1:$cport/closed
pipeline:
  - name: a
    command: echo hi; echo e >&2
    report_full_output: true
  - name: b
    command: echo __OUT["a"]
  - name: c
    only_if: "false"
    command: "true"
  - name: d
    command: exit 2
  - name: e
    command: "true"
cleanup:
  - name: z
    command: "true"
Y
want=1 vg d1 -c all.yml
c vg-d1-sent '[ "$(count vg.log)" -ge 20 ]'

cp "$top/examples/d2.yml" d2.yml
printf 'notify:\n  - type: webhook\n    url: http://127.0.0.1:%s/w\n    summary: true\n  - type: slack\n    url: http://127.0.0.1:%s/s\n    on: [failure]\n' "$port" "$port" >> d2.yml
want=0 vg d2 -c d2.yml -build -deploy
