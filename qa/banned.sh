#!/bin/bash
# Fail if a banned function is called in the C sources and headers:
# sprintf, strcpy, strcat, strtok, atoi, gets (docs/architecture.md, Conventions). Use
# snprintf, memcpy with a checked length, strtok_r or a cursor, strtol/strtoul
# with range checks, fgets.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pattern='(^|[^[:alnum:]_])(sprintf|vsprintf|strcpy|strcat|strtok|atoi|gets)[[:space:]]*\('

found=$(grep -rnE --include='*.c' --include='*.h' "$pattern" gslb include tests 2>/dev/null |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' || true)
if [ -n "$found" ]; then
	echo "banned.sh: banned functions called:" >&2
	echo "$found" >&2
	exit 1
fi
echo "banned.sh: no banned function called"
