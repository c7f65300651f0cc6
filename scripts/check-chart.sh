#!/usr/bin/env bash
# Lints and renders the Helm chart for its default values and every
# helm/sloprober/ci/*-values.yaml, validates the objects with
# kubernetes-validate --strict against a recent Kubernetes, and checks the
# operator objects (ServiceMonitor, PrometheusRule, dashboard ConfigMaps).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
chart=$root/helm/sloprober
kubernetes=1.34.0
helm=$root/target/tools/helm/helm
venv=$root/target/tools/kubernetes-validate
if [ ! -x "$helm" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "helm and kubernetes-validate are needed: bash scripts/install-test-tools.sh installs them" >&2
  exit 69
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for values in - "$chart"/ci/*-values.yaml; do
  args=()
  [ "$values" = - ] || args=(-f "$values")
  name=$(basename "$values" .yaml)
  "$helm" lint --strict "$chart" "${args[@]}" >/dev/null
  "$helm" template sloprober "$chart" --namespace probes "${args[@]}" > "$out/$name.yaml"
  "$venv/bin/kubernetes-validate" --strict --quiet -k "$kubernetes" "$out/$name.yaml" 2>&1 | grep -v "Couldn't find schema for kind \(PrometheusRule\|ServiceMonitor\)" || true
  "$venv/bin/kubernetes-validate" --strict --no-warn -k "$kubernetes" "$out/$name.yaml" >/dev/null
  "$venv/bin/python" "$root/scripts/check_chart_objects.py" "$out/$name.yaml" "$chart" "$values"
done

# values.schema.json rejects mistyped and unknown values.
for bad in "replicaCount=zero" "service.prot=9469" "image.pullPolicy=Sometimes" "distributedRun.shards=0" \
    "distributedRun.mergeWait=forever"; do
  if "$helm" template sloprober "$chart" --set "$bad" >/dev/null 2>&1; then
    echo "FAIL: values.schema.json accepted --set $bad" >&2
    exit 1
  fi
done
echo "chart ok: helm $("$helm" version --short), kubernetes-validate against $kubernetes"
