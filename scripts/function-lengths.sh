#!/usr/bin/env bash
# The longest functions in product code (launch/ parallel/ src/ kernels/ memory/: *.cpp *.h *.cu
# *.cuh) by lizard's length, the lines from the signature to the closing brace: prints the top N,
# then every function over the limit (the project's rule: none over 80 lines). lizard is pinned
# and installed on first use into <build>/tools-venv, then reused.
#   scripts/function-lengths.sh [--limit 80] [--top 10]      COHORT_BUILD_DIR (build)
# Exit 0 none over the limit, 1 some over it, 77 skipped (lizard cannot be installed).
set -euo pipefail
cd "$(dirname "$0")/.."
limit=80
top=10
while [ $# -gt 0 ]; do
  case "$1" in
    --limit | --top) [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "function-lengths: $1 takes a number" >&2; exit 2; }
                     if [ "$1" = --limit ]; then limit=$2; else top=$2; fi
                     shift 2 ;;
    *) echo "usage: scripts/function-lengths.sh [--limit 80] [--top 10]" >&2; exit 2 ;;
  esac
done
version=1.24.3
venv=${COHORT_BUILD_DIR:-build}/tools-venv
if [ "$("$venv/bin/lizard" --version 2>/dev/null)" != "$version" ]; then
  { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "lizard==$version"; } >/dev/null 2>&1 ||
    { echo "function-lengths: cannot install lizard $version into $venv (no network or no python3 venv): skipped"; exit 77; }
fi

# Files named one by one: lizard's own directory walk skips *.cu and *.cuh.
mapfile -t files < <(find launch parallel src kernels memory -type f \
                          \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort)
# lizard's CSV rows: nloc,ccn,tokens,parameters,length,"name@start-end@file",... -> "length file:start name".
lengths=$("$venv/bin/lizard" --csv "${files[@]}" |
          sed -nE 's/^[0-9]+,[0-9]+,[0-9]+,[0-9]+,([0-9]+),"([^"]*)@([0-9]+)-[0-9]+@([^"]*)".*/\1 \4:\3 \2/p' |
          sort -s -k1,1nr)
show() { awk '{ name = $0; sub(/^[^ ]+ [^ ]+ /, "", name); printf "%6d  %-44s %s\n", $1, $2, name }'; }

echo "function-lengths: the $top longest functions (length, file:line, name)"
head -n "$top" <<<"$lengths" | show
over=$(awk -v limit="$limit" '$1 > limit' <<<"$lengths")
if [ -z "$over" ]; then
  echo "function-lengths: none over $limit lines"
  exit 0
fi
echo "function-lengths: $(wc -l <<<"$over") over $limit lines:"
show <<<"$over"
exit 1
