# What a release promises. One version from one place, WALTER_VERSION in
# walter.c: -version, the JSON event, the -json and -junit reports and
# every version the README and the man page show must be that one. One
# package list: what .ci/run installs is what the README says to install.
. "$top/tests/sys/lib.sh"

v=$(sed -n 's/^#define WALTER_VERSION "\(.*\)"$/\1/p' "$top/walter.c")
t version-defined-once sh -c '[ -n "$v" ] && [ "$(grep -c "^#define WALTER_VERSION " "$top/walter.c")" = 1 ]'
# no second copy of the string in the sources
t version-not-repeated sh -c '[ "$(cat "$top"/*.c "$top"/include/*.h | grep -cF "\"$v\"")" = 1 ]'

w -version
t version-flag sh -c '[ "$rc" = 0 ] && [ "$(cat out.txt)" = "walter version $v" ]'
w -v
t version-short-flag sh -c '[ "$(cat out.txt)" = "walter version $v" ]'

cat > v.yml <<'Y'
pipeline:
  - name: a
    command: "true"
notify:
  - type: exec
    command: cat >> events.json
Y
w -c v.yml -json r.json -junit r.xml
python3 - "$v" > check.txt 2>&1 <<'PY'
import json, sys, xml.dom.minidom as m
v = sys.argv[1]
ev = [json.loads(l) for l in open("events.json")]
assert ev and all(e["version"] == v for e in ev), ev
assert json.load(open("r.json"))["version"] == v
p = m.parse("r.xml").getElementsByTagName("property")
assert [(x.getAttribute("name"), x.getAttribute("value")) for x in p] == [("walter.version", v)]
print("same version")
PY
t version-in-event-and-reports has check.txt "same version"

# the documents: every version they show (JSON examples, release file
# names, -version output) is this one
docs_versions() {
	grep -ohE '"version": ?"[^"]*"|walter-[0-9][0-9A-Za-z.+~-]*-linux|walter version [0-9][^ ]*|V=[0-9][^ ]*' \
		"$top/README.md" "$top/walter.1" |
		sed -E 's/^"version": ?"//; s/"$//; s/^walter-//; s/-linux$//; s/^walter version //; s/^V=//' | sort -u
}
dv=$(docs_versions | tr '\n' ' ')
t docs-show-some-version [ -n "$dv" ]
t docs-show-this-version [ "$dv" = "$v " ]

# words FILE PATTERN: the words of the commands matching PATTERN (with
# their backslash-continued lines) that name a package or an architecture
words() {
	awk -v p="$2" '$0 ~ p { c = 1 } c { print; if ($0 !~ /\\$/) c = 0 }' "$1" |
		tr ' \t\\' '\n\n\n' | grep -E '^[a-z0-9][a-z0-9.+:-]*$' | grep -vxE 'apt-get|install|dpkg' | sort -u
}
ci=$top/.ci/run rd=$top/README.md
t packages-listed sh -c '[ "$(words "$ci" "apt-get install" | wc -l)" -gt 10 ]'
t packages-one-list [ "$(words "$ci" "apt-get install")" = "$(words "$rd" "apt-get install")" ]
t architectures-one-list [ "$(words "$ci" "dpkg --add-architecture")" = "$(words "$rd" "dpkg --add-architecture")" ]
