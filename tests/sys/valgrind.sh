# Representative pipelines under valgrind: no errors, no definite leaks.
# (walter is built here with glibc, dynamically: valgrind cannot follow
# malloc in a static musl binary.)
. "$top/tests/sys/lib.sh"

vg_build valgrind

# vg NAME ARGS...: walter-vg ARGS under memcheck; ok when clean.
vg() {
	_n=$1; shift
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
		--log-file=vg-$_n.txt ./walter-vg "$@" >/dev/null 2>vg-$_n.err </dev/null
	_r=$?
	if [ $_r != 99 ] && [ ! -s vg-$_n.txt ]; then echo "ok vg-$_n"
	else echo "FAIL vg-$_n: exit $_r: $(head -5 vg-$_n.txt | tr '\n' ' ')"; fi
}

cp "$top/examples/"*.yml .
vg seed -c seed.yml
vg d1 -c d1.yml
vg d2 -c d2.yml -build -deploy -json r.json -junit r.xml
cat > fail.yml <<'Y'
pipeline:
  - name: ok
    command: echo fine
  - name: grp
    parallel:
      - name: bad
        command: echo broken >&2; exit 3
      - name: good
        command: sleep 0.1
  - name: skipped
    command: "true"
cleanup:
  - name: clean
    command: echo cleaning
Y
vg failure -c fail.yml
cat > abort.yml <<'Y'
- name: big
  command: head -c 3000000 /dev/zero | tr '\0' 'x'
- name: g
  parallel:
    - name: reader
      command: wc -c
    - name: sleeper
      command: touch started; exec sleep 5
    - name: failer
      command: while [ ! -e started ]; do sleep 0.01; done; exit 1
Y
vg abort-and-spill -c abort.yml -build
printf 'pipeline:\n  - name: x\n    comand: y\n  - name: [bad]\n' > bad.yml
vg config-errors -c bad.yml
vg yaml-to-json -yaml-to-json d2.yml
vg plan -plan -c d2.yml
# daily use: names, -from, -list, -x, CI groups and annotations, env_file
printf 'A=1\nB="two\nlines"\nMY_TOKEN=tok12345\n' > v.env
printf 'env_file: v.env\nbuild:\n  tasks:\n    - name: a\n      env_file: [v.env]\n      command: echo "$B"\n    - name: g\n      include: inc.yml\n  cleanup:\n    - name: c\n      command: "true"\ndeploy:\n  tasks:\n    - name: d\n      command: exit 2\n' > daily.yml
printf -- '- name: i\n  command: echo "$MY_TOKEN"\n' > inc.yml
GITHUB_ACTIONS=true vg daily-names -c daily.yml -x g/i d
vg daily-from -c daily.yml -ci gitlab -from a -build -deploy -json - -junit r2.xml
vg daily-list -c daily.yml -list
vg daily-list-json -c daily.yml -list -json
vg daily-unknown -c daily.yml nosuchtask -from nope
