#!/usr/bin/env bash
# Checks that every README code block marked `<!-- quote: <file> -->` (the whole file) or
# `<!-- quote: <file> [<region>] -->` (the lines between the two `// [<region>]` lines of the
# file, dedented) is exactly that text, so the README's tour cannot drift from the examples.
#   check_readme_quotes.sh <source dir>
set -euo pipefail
root=${1:?usage: check_readme_quotes.sh <source dir>}
readme=$root/README.md
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The quoted text: the whole file, or a region without its marker lines, dedented.
quoted() {
  local file=$1 region=$2
  if [[ -z $region ]]; then
    cat "$file"
    return
  fi
  local count
  count=$(grep -cxF -- "$(printf '%s' "// [$region]")" <(sed 's/^[[:space:]]*//' "$file") || true)
  if [[ $count -ne 2 ]]; then
    echo "$file: expected two '// [$region]' lines, found $count" >&2
    return 1
  fi
  awk -v marker="// [$region]" '
    { line = $0; sub(/^[ \t]+/, "", line) }
    line == marker { inside = !inside; next }
    inside { print }' "$file" |
    awk '{ lines[NR] = $0
           if ($0 ~ /[^ ]/) { match($0, /^ */); if (min == "" || RLENGTH < min) min = RLENGTH } }
         END { for (i = 1; i <= NR; i++) print substr(lines[i], min + 1) }'
}

checked=0 failed=0
while IFS= read -r marker_line; do
  number=${marker_line%%:*}
  spec=$(sed -E 's/.*<!-- quote: ([^ ]+)( \[([^]]+)\])? -->.*/\1|\3/' <<<"${marker_line#*:}")
  file=${spec%%|*} region=${spec#*|}
  # The block: from the fence after the marker to the next fence.
  awk -v start="$number" 'NR > start && /^```/ { if (open) exit; open = 1; next } open { print }' \
    "$readme" >"$scratch/block"
  if ! quoted "$root/$file" "$region" >"$scratch/quoted"; then
    failed=$((failed + 1))
    continue
  fi
  if ! diff -u "$scratch/quoted" "$scratch/block" >"$scratch/diff"; then
    echo "README.md:$number: the block differs from $file${region:+ [$region]}:" >&2
    cat "$scratch/diff" >&2
    failed=$((failed + 1))
  fi
  checked=$((checked + 1))
done < <(grep -n '<!-- quote: ' "$readme")

if [[ $checked -eq 0 ]]; then
  echo "README.md: no quoted blocks found" >&2
  exit 1
fi
echo "README.md: $checked quoted blocks checked, $failed differ"
[[ $failed -eq 0 ]]
