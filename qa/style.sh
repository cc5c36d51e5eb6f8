#!/bin/bash
# Check the C sources against .clang-format (Linux-kernel-like, tabs, 100
# columns). With --fix, reformat them in place instead.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "style.sh: $cf not installed (Debian: clang-format)" >&2; exit 1; }

shopt -s nullglob
files=(gslb/*.c include/gslb/*.h)
if [ "${1:-}" = "--fix" ]; then
	"$cf" -i "${files[@]}"
	echo "style.sh: reformatted ${#files[@]} files"
	exit 0
fi
if ! "$cf" --dry-run -Werror "${files[@]}"; then
	echo "style.sh: run qa/style.sh --fix to reformat" >&2
	exit 1
fi
echo "style.sh: ${#files[@]} files formatted"
