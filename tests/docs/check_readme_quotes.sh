#!/usr/bin/env bash
# Checks that every code block of a markdown file marked `<!-- quote: <file> -->` (the whole
# file) or `<!-- quote: <file> [<region>] -->` (the lines between the two `// [<region>]` lines
# of the file, dedented) is exactly that text, so the README's tour cannot drift from the
# examples, nor docs/guide.md from its samples. Paths are relative to the source dir. With
# --all-cpp-quoted, a ```cpp block without a quote marker on the line before it fails too.
#   check_readme_quotes.sh <source dir> [<markdown file> [--all-cpp-quoted]]
#   (default: README.md, where some cpp blocks are sketches)
set -euo pipefail
usage="usage: check_readme_quotes.sh <source dir> [<markdown file> [--all-cpp-quoted]]"
root=${1:?$usage}
doc=${2:-README.md}
all_cpp_quoted=${3:-}
if [[ -n $all_cpp_quoted && $all_cpp_quoted != --all-cpp-quoted ]]; then
  echo "$usage" >&2
  exit 2
fi
readme=$root/$doc
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

checked=0 failed=0 unquoted=0
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
    echo "$doc:$number: the block differs from $file${region:+ [$region]}:" >&2
    cat "$scratch/diff" >&2
    failed=$((failed + 1))
  fi
  checked=$((checked + 1))
done < <(grep -n '<!-- quote: ' "$readme")

if [[ -n $all_cpp_quoted ]]; then
  while IFS=: read -r number _; do
    if [[ $number -eq 1 ]] || ! sed -n "$((number - 1))p" "$readme" | grep -q '^<!-- quote: '; then
      echo "$doc:$number: a cpp block that quotes no file" >&2
      unquoted=$((unquoted + 1))
    fi
  done < <(grep -n '^```cpp' "$readme")
fi

if [[ $checked -eq 0 ]]; then
  echo "$doc: no quoted blocks found" >&2
  exit 1
fi
summary="$doc: $checked quoted blocks checked, $failed differ"
[[ -z $all_cpp_quoted ]] || summary+=", $unquoted cpp blocks quote no file"
echo "$summary"
[[ $failed -eq 0 && $unquoted -eq 0 ]]
