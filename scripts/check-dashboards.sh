#!/usr/bin/env bash
# Type-checks Grafana dashboards against @grafana/schema: each dashboard is
# written as a TypeScript object literal of type `Dashboard`, so an unknown
# field or a field of the wrong type fails `tsc`. String enums are widened to
# `string` (a JSON file cannot name a TypeScript enum member).
#   scripts/check-dashboards.sh [dashboard.json ...]   (default: grafana/dashboards/*.json)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/dashboard-check
if [ ! -f "$work/node_modules/@grafana/schema/package.json" ] || [ ! -x "$work/node_modules/.bin/tsc" ]; then
  echo "@grafana/schema and typescript are needed: bash scripts/install-test-tools.sh installs them" >&2
  exit 69
fi
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$root"/grafana/dashboards/*.json)
rm -f "$work"/check-*.ts
cat > "$work/widen.ts" <<'TS'
export type Widen<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean
  : T extends (infer U)[] ? Widen<U>[] : T extends object ? { [K in keyof T]: Widen<T[K]> } : T;
TS
list=()
for file in "${files[@]}"; do
  name=check-$(basename "$file" .json).ts
  { echo "import type { Dashboard } from '@grafana/schema';"
    echo "import type { Widen } from './widen';"
    echo -n "export const dashboard: Widen<Dashboard> = "
    cat "$file"
    echo ";"; } > "$work/$name"
  list+=("\"$name\"")
done
cat > "$work/tsconfig.json" <<JSON
{"compilerOptions": {"strict": true, "noEmit": true, "module": "esnext", "moduleResolution": "bundler",
 "target": "es2020", "skipLibCheck": true}, "files": [$(IFS=,; echo "${list[*]}")]}
JSON
(cd "$work" && node node_modules/typescript/bin/tsc -p tsconfig.json)
echo "dashboards match @grafana/schema $(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$work/node_modules/@grafana/schema/package.json" | head -1): ${files[*]##*/}"
