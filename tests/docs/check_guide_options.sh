#!/usr/bin/env bash
# Checks that docs/guide.md names every field of the option structs of ferry/options.h as
# `field`, so that its option tables cannot fall behind the header. (ClientCallInfo is what an
# interceptor is told, not an option.)
#   check_guide_options.sh <source dir>
set -euo pipefail
root=${1:?usage: check_guide_options.sh <source dir>}
header=$root/runtime/include/ferry/options.h
guide=$root/docs/guide.md
structs="CallOptions StreamWindow SlotClass ShmOptions ReconnectOptions ConnectOptions"
structs+=" ServerOptions"

# "Struct field" per member: in a struct listed above, a declaration at the members' indent
# (continuation lines are indented deeper), its name the first identifier followed by a
# default (`=`, `{`) or by the `;`.
fields=$(awk -v structs=" $structs " '
  /^struct [A-Za-z]+ \{/ { inside = index(structs, " " $2 " ") > 0; name = $2; next }
  /^\};/ { inside = 0; next }
  inside {
    line = $0
    sub(/\/\/.*/, "", line)
    if (line !~ /^  [^ ]/) next
    if (match(line, /[A-Za-z_][A-Za-z0-9_]*[ ]*(=|\{|;)/)) {
      field = substr(line, RSTART, RLENGTH)
      sub(/[ ]*(=|\{|;)$/, "", field)
      print name " " field
    }
  }' "$header")

found=0 missing=0
seen=" "
while read -r struct field; do
  found=$((found + 1))
  seen+="$struct "
  if ! grep -qF -- "\`$field\`" "$guide"; then
    echo "docs/guide.md does not name $struct::$field as \`$field\`" >&2
    missing=$((missing + 1))
  fi
done <<<"$fields"

for struct in $structs; do
  if [[ $seen != *" $struct "* ]]; then
    echo "$header: found no fields of $struct (has the header's layout changed?)" >&2
    missing=$((missing + 1))
  fi
done
echo "docs/guide.md: $found option fields looked for, $missing missing"
[[ $missing -eq 0 ]]
