# The documents say what the binary does: -h, the README's flag table and
# walter.1 (its synopsis and its options) list the same flags, and walter
# knows every flag they list.
. "$top/tests/sys/lib.sh"

# the flags of -h: the first column of its option lines
"$WALTER" -h > help.txt
sed -n 's/^  \(-[^ ].*\)/\1/p' help.txt | sed 's/  .*//' | tr ', ' '\n\n' | grep '^-[a-zA-Z]' | sort -u > h.txt
# the README's flag table (the rows under "| flag | meaning |")
awk '/^\| flag \| meaning \|/ { on = 1; next } on && !/^\|/ { on = 0 } on' "$top/README.md" |
	cut -d'|' -f2 | grep -o '`-[a-zA-Z][a-zA-Z-]*' | tr -d '`' | sort -u > r.txt
# walter.1: the options (the line after each .TP) and the synopsis
awk '/^\.SH OPTIONS/ { on = 1; next } /^\.SH/ { on = 0 } on && prev == ".TP" { print } { prev = $0 }' "$top/walter.1" |
	grep -o '\\-[a-zA-Z][a-zA-Z\\-]*' | sed 's/\\-/-/g' | sort -u > mo.txt
awk '/^\.SH SYNOPSIS/ { on = 1; next } /^\.SH/ { on = 0 } on' "$top/walter.1" |
	grep -o '\\-[a-zA-Z][a-zA-Z\\-]*' | sed 's/\\-/-/g' | sort -u > ms.txt

t docs-help-flags sh -c '[ "$(wc -l < h.txt)" -ge 20 ] && grep -qx -- -from h.txt && grep -qx -- -yaml-to-json h.txt'
t docs-readme-same-flags diff h.txt r.txt
t docs-man-options-same-flags diff h.txt mo.txt
t docs-man-synopsis-same-flags diff h.txt ms.txt
# task names are documented too
t docs-names sh -c 'grep -q "NAME\.\.\." help.txt && grep -q "NAME\.\.\." "$top/README.md" && grep -q "^\.RI \[ name \.\.\.\]" "$top/walter.1"'

# walter knows each of them (a flag it does not know is a usage error)
while read -r f; do
	"$WALTER" "$f=1" -c /nonexistent >/dev/null 2>err.txt </dev/null
	if grep -q "flag provided but not defined" err.txt; then echo "$f" >> unknown.txt; fi
done < h.txt
t docs-flags-defined [ ! -e unknown.txt ]

# every new key of the pipeline file has an example in both documents
for k in description env_file shell; do
	grep -q "^ *$k: " "$top/README.md" || echo "README: $k" >> nokey.txt
	grep -q "$k: " "$top/walter.1" || echo "walter.1: $k" >> nokey.txt
done
t docs-key-examples [ ! -e nokey.txt ]
