# env_file: dotenv lines (top level and per task) added to the tasks'
# environment, read as dotenv tools read them; a missing or broken file
# is a located error; secret names are masked.
. "$top/tests/sys/lib.sh"

printf '%s\n' '# a comment' '' '   # an indented comment' 'export A=exported' 'B = spaced value   # a comment' \
	'C="double \"quoted\" \n and \\ and \q"' "D='single \$HOME \\n # not a comment'" 'E="two' 'lines"' \
	'F=a#b' 'G=' 'H=""' 'I=   ' 'HOME=from-file' 'DUP=first' 'DUP=second' 'WIN=crlf' \
	"K='x' # after" 'L="y"   ' > top.env
printf 'WIN=crlf\r\nCR2="quoted"\r\n' >> top.env
printf 'T=task-file\nA=task-wins\nM=task-file-m\n' > task.env
printf 'N=second-file\nT=second-wins\n' > task2.env
cat > e.yml <<'Y'
env_file: top.env
pipeline:
  - name: show
    env_file: [task.env, task2.env]
    env: {M: from-env-key}
    command: for v in A B C D E F G H I HOME DUP WIN K L CR2 T M N; do eval "printf '%s=[%s]\n' $v \"\$$v\""; done
  - name: plain
    command: echo "plain A=[$A] T=[$T]"
Y
w -c e.yml
# the task's lines, in order, as one text to compare
sed -n 's/^[0-9:]*  INFO \[show\] //p' err.txt | grep -v 'Start task\|End task' > got.txt
cat > want.txt <<'T'
A=[task-wins]
B=[spaced value]
C=[double "quoted" 
 and \ and \q]
D=[single $HOME \n # not a comment]
E=[two
lines]
F=[a#b]
G=[]
H=[]
I=[]
T
printf 'HOME=[%s]\n' "$HOME" >> want.txt # walter's environment wins
cat >> want.txt <<'T'
DUP=[second]
WIN=[crlf]
K=[x]
L=[y]
CR2=[quoted]
T=[second-wins]
M=[from-env-key]
N=[second-file]
T
t envfile-run [ "$rc" = 0 ]
# (the log splits the values that hold a newline into two lines)
t envfile-values sh -c 'diff want.txt got.txt'
t envfile-top-level-every-task has err.txt "[plain] plain A=[exported] T=[]"

# -- in 2.x files too, and in included files' tasks
printf 'X_FROM_TOP=yes\n' > d2.env
printf -- '- name: inc\n  command: echo "inc=$X_FROM_TOP"\n' > inc.yml
printf 'env_file: d2.env\nbuild:\n  tasks:\n    - name: t\n      command: echo "t=$X_FROM_TOP"\n    - include: inc.yml\n' > d2.yml
w -c d2.yml
t envfile-d2 sh -c '[ "$rc" = 0 ] && has err.txt "[t] t=yes" && has err.txt "[inc] inc=yes"'

# -- names in it count for secret masking
printf 'DEPLOY_TOKEN=tok-from-dotenv-42\nPLAIN_VALUE=shown-value\n' > s.env
printf 'pipeline:\n  - name: s\n    env_file: s.env\n    command: echo "$DEPLOY_TOKEN $PLAIN_VALUE"\n' > s.yml
w -c s.yml -json r.json
t envfile-secret-masked sh -c 'has err.txt "[s] *** shown-value" && ! grep -q tok-from-dotenv-42 err.txt r.json'

# -- a missing file, a bad line: located errors, exit 2, nothing runs
printf 'pipeline:\n  - name: m\n    env_file: nope.env\n    command: touch ran\n' > m.yml
w -c m.yml
t envfile-missing sh -c '[ "$rc" = 2 ] && has err.txt "walter: m.yml:3:15: env_file nope.env: No such file or directory" && [ ! -e ran ]'
printf 'env_file: [ok.env, nope2.env]\npipeline: []\n' > m2.yml
: > ok.env
w -c m2.yml
t envfile-missing-in-list sh -c '[ "$rc" = 2 ] && has err.txt "walter: m2.yml:1:20: env_file nope2.env: No such file or directory"'
printf 'A=1\n1B=2\nC "x"\n  D=ok\nbad-name=3\nE="x" junk\nF="never closed\nG=1\n' > bad.env
printf 'env_file: bad.env\npipeline:\n  - name: b\n    command: touch ran\n' > b.yml
w -c b.yml
t envfile-bad-name sh -c '[ "$rc" = 2 ] && has err.txt "walter: bad.env:2:1: expected NAME=VALUE"'
t envfile-no-equals has err.txt 'walter: bad.env:3:3: expected "=" after the name'
t envfile-dash-name has err.txt 'walter: bad.env:5:4: expected "=" after the name'
t envfile-after-quote has err.txt 'walter: bad.env:6:7: unexpected text after the closing quote'
t envfile-unclosed sh -c 'has err.txt "walter: bad.env:7:3: the quote is not closed" && [ ! -e ran ]'
printf 'A=x\0y\n' > nul.env
printf 'env_file: nul.env\npipeline: []\n' > n.yml
w -c n.yml
t envfile-nul sh -c '[ "$rc" = 2 ] && has err.txt "walter: nul.env:1:1: the value of A holds a NUL byte"'
printf 'env_file: {a: b}\npipeline: []\n' > t.yml
w -c t.yml
t envfile-type sh -c '[ "$rc" = 2 ] && has err.txt "\"env_file\" must be a file path or a list of them"'
# -- hostile input: a 2 MB value and invalid UTF-8 pass through untouched
python3 -c 'import sys; sys.stdout.buffer.write(b"BIG=" + b"x" * 100000 + b"\nBYTES=\xff\xfe\x80ok\n")' > big.env
printf 'pipeline:\n  - name: big\n    env_file: big.env\n    command: printf "%%s" "$BIG" | wc -c; printf "%%s" "$BYTES" | od -An -c | tr -d " "\n' > big.yml
w -c big.yml
t envfile-big-and-bytes sh -c '[ "$rc" = 0 ] && has err.txt "[big] 100000" && has err.txt "[big] 377376200ok"'
# -- the environment walter runs in wins over the file, as with dotenv tools
printf 'FROM_ENV=file\n' > w.env
printf 'pipeline:\n  - name: w\n    env_file: w.env\n    command: echo "FROM_ENV=$FROM_ENV"\n' > w.yml
FROM_ENV=outside "$WALTER" -c w.yml 2>err.txt
t envfile-environment-wins has err.txt "[w] FROM_ENV=outside"
