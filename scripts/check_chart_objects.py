"""Checks rendered chart objects for what a user relies on and what the
Prometheus Operator and the Grafana sidecar need (their CRDs and conventions
are not in kubernetes-validate's schemas).

    python3 check_chart_objects.py RENDERED.yaml CHART_DIR VALUES.yaml|-
"""
import json
import sys

import yaml

rendered, chart, values_path = sys.argv[1], sys.argv[2], sys.argv[3]
docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
values = yaml.safe_load(open(f"{chart}/values.yaml"))
if values_path != "-":
    override = yaml.safe_load(open(values_path)) or {}
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key].update(value)
        else:
            values[key] = value
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def one(kind):
    found = [d for d in docs if d["kind"] == kind]
    return found[0] if found else None


service = one("Service")
sts = one("StatefulSet")
check(sts is not None, "no StatefulSet")
pod = sts["spec"]["template"]
container = pod["spec"]["containers"][0]
env = {e["name"]: e for e in container.get("env", [])}
check(env["SLOPROBER_SHARD_COUNT"]["value"] == str(sts["spec"]["replicas"]), "SLOPROBER_SHARD_COUNT must equal replicas")
check(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", "POD_NAME must come from the pod name")
if "API_KEY" in env:
    check("secretKeyRef" in env["API_KEY"]["valueFrom"], "API_KEY must come from a Secret")
    check("value" not in env["API_KEY"], "API_KEY must never be a plain value")
api_key = (values.get("apiKey") or {}).get("value")
for cm in [d for d in docs if d["kind"] == "ConfigMap"]:
    check(not api_key or api_key not in json.dumps(cm), f"ConfigMap {cm['metadata']['name']} holds the API key")
check(api_key is None or api_key == "" or one("Secret") is not None or values["apiKey"].get("existingSecret"), "no Secret for the API key")
security = container["securityContext"]
check(security.get("readOnlyRootFilesystem") is True, "root filesystem must be read-only")
check(security.get("allowPrivilegeEscalation") is False, "privilege escalation must be off")
check(security.get("capabilities", {}).get("drop") == ["ALL"], "capabilities must be dropped")
check(pod["spec"]["securityContext"].get("runAsNonRoot") is True, "must run as non-root")
check(container["livenessProbe"]["httpGet"]["path"] == "/health", "liveness probe on /health")
check(container["readinessProbe"]["httpGet"]["path"] == "/ready", "readiness probe on /ready")
check("checksum/config" in pod["metadata"]["annotations"], "checksum/config annotation rolls pods on config change")
for arg in values.get("extraArgs") or []:
    check(arg in container["args"], f"extraArgs: {arg} is not passed to the daemon")
mounts = {m["name"]: m for m in container["volumeMounts"]}
volumes = {v["name"] for v in pod["spec"]["volumes"]}
for mount in values.get("extraVolumeMounts") or []:
    check(mounts.get(mount["name"]) == mount, f"extraVolumeMounts: {mount['name']} is not mounted as given")
    check(mount["name"] in volumes, f"extraVolumeMounts: no volume {mount['name']}")
config_name = pod["spec"]["volumes"][0]["configMap"]["name"]
if values.get("existingConfigMap"):
    check(config_name == values["existingConfigMap"], "existingConfigMap must be mounted")
else:
    cm = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == config_name]
    check(len(cm) == 1 and "sloprober.yaml" in cm[0]["data"], "the config ConfigMap must hold sloprober.yaml")
    if cm and not values.get("config"):
        check(cm[0]["data"]["sloprober.yaml"] == open(f"{chart}/files/sloprober.yaml").read(), "default config must be files/sloprober.yaml")

monitor = one("ServiceMonitor")
check((monitor is not None) == bool(values["serviceMonitor"]["enabled"]), "ServiceMonitor only when enabled")
if monitor:
    selector = monitor["spec"]["selector"]["matchLabels"]
    check(all(service["metadata"]["labels"].get(k) == v for k, v in selector.items()), "ServiceMonitor selector must match the Service")
    ports = {p["name"] for p in service["spec"]["ports"]}
    check(all(e["port"] in ports for e in monitor["spec"]["endpoints"]), "ServiceMonitor endpoints must name a Service port")
    for k, v in (values["serviceMonitor"].get("endpoint") or {}).items():
        check(monitor["spec"]["endpoints"][0].get(k) == v, f"ServiceMonitor endpoint lacks {k}")
    for k, v in values["serviceMonitor"]["additionalLabels"].items():
        check(monitor["metadata"]["labels"].get(k) == v, f"ServiceMonitor lacks label {k}={v}")

rule = one("PrometheusRule")
check((rule is not None) == bool(values["prometheusRule"]["enabled"]), "PrometheusRule only when enabled")
if rule:
    shipped = yaml.safe_load(open(f"{chart}/files/sloprober.rules.yml"))["groups"]
    expected = values["prometheusRule"].get("groups") or shipped
    check(rule["spec"]["groups"] == expected, "PrometheusRule groups must equal the rendered rules")
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            check(("record" in r) != ("alert" in r) and r.get("expr"), f"rule needs expr and one of record/alert: {r}")
            if "alert" in r:
                check("severity" in r.get("labels", {}), f"{r['alert']} lacks severity")
                for a in ("summary", "description", "runbook_url"):
                    check(a in r.get("annotations", {}), f"{r['alert']} lacks {a}")
    for k, v in values["prometheusRule"]["additionalLabels"].items():
        check(rule["metadata"]["labels"].get(k) == v, f"PrometheusRule lacks label {k}={v}")

dashboards = [d for d in docs if d["kind"] == "ConfigMap" and values["dashboards"]["label"] in d["metadata"].get("labels", {})]
check(bool(dashboards) == bool(values["dashboards"]["enabled"]), "dashboard ConfigMaps only when enabled")
for cm in dashboards:
    check(cm["metadata"]["labels"][values["dashboards"]["label"]] == values["dashboards"]["labelValue"], "sidecar label value")
    for name, text in cm["data"].items():
        check(text + "\n" == open(f"{chart}/files/dashboards/{name}").read(), f"{name} differs from the rendered dashboard")
        json.loads(text)

run = values.get("distributedRun") or {}
jobs = {d["metadata"]["labels"].get("app.kubernetes.io/component"): d for d in docs if d["kind"] == "Job"}
check(bool(jobs) == bool(run.get("enabled")), "Jobs only when distributedRun.enabled")
if jobs:
    shard_job, merge_job = jobs.get("run"), jobs.get("merge")
    check(shard_job is not None and merge_job is not None, "a shard Job and a merge Job")
    spec = shard_job["spec"]
    check(spec.get("completionMode") == "Indexed", "the shard Job must be Indexed: the completion index is the shard")
    check(spec.get("completions") == run["shards"] == spec.get("parallelism"), "completions and parallelism must equal shards")
    shard_pod = shard_job["spec"]["template"]["spec"]
    merge_pod = merge_job["spec"]["template"]["spec"]
    shard = shard_pod["containers"][0]
    merge = merge_pod["containers"][0]
    shard_env = {e["name"]: e for e in shard.get("env", [])}
    check(shard_env.get("SLOPROBER_SHARD_COUNT", {}).get("value") == str(run["shards"]), "SLOPROBER_SHARD_COUNT must equal shards")
    check("SLOPROBER_SHARD_INDEX" not in shard_env, "the shard index must come from JOB_COMPLETION_INDEX")
    for job in (shard_job, merge_job):
        pod = job["spec"]["template"]
        check(pod["spec"]["restartPolicy"] == "Never", "a finished shard must not restart")
        labels = pod["metadata"]["labels"]
        selector = service["spec"]["selector"]
        check(not all(labels.get(k) == v for k, v in selector.items()), "the Service must not select Job pods")
        check(pod["spec"]["containers"][0]["securityContext"].get("readOnlyRootFilesystem") is True, "Job pods: read-only root")
        api = {e["name"]: e for e in pod["spec"]["containers"][0].get("env", [])}.get("API_KEY")
        check(api is None or "secretKeyRef" in api["valueFrom"], "API_KEY must come from a Secret")
    claims = {v["persistentVolumeClaim"]["claimName"] for p in (shard_pod, merge_pod) for v in p["volumes"] if "persistentVolumeClaim" in v}
    check(len(claims) == 1, "shards and merge must share one results volume")
    expected_claim = (run.get("results") or {}).get("existingClaim")
    pvcs = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    if expected_claim:
        check(claims == {expected_claim} and not pvcs, "results.existingClaim must be used, none created")
    else:
        check(len(pvcs) == 1 and claims == {pvcs[0]["metadata"]["name"]}, "the created claim must be the one mounted")
        check(pvcs[0]["spec"]["accessModes"] == ["ReadWriteMany"], "pods on any node write the results: ReadWriteMany")
    result_arg = [a for a in shard["args"] if a.startswith("--result=")]
    check(len(result_arg) == 1 and result_arg[0].startswith("--result=/results/") and result_arg[0].endswith("/"), "shards write into a directory on the results volume")
    result_dir = result_arg[0][len("--result="):].rstrip("/") if result_arg else None
    check(merge["args"][0] == "merge" and merge["args"][-1] == result_dir, "merge reads the directory the shards write")
    check(any(a.startswith("--wait=") for a in merge["args"]), "merge waits for every shard")
    check(f"--profile={run['profile']}" in shard["args"], "shards play distributedRun.profile")
    run_ids = {a for a in shard["args"] if a.startswith("--run-id=")}
    check(len(run_ids) == 1, "every shard shares one --run-id")
    for arg in run.get("extraArgs") or []:
        check(arg in shard["args"], f"distributedRun.extraArgs: {arg} is not passed to the shards")

if problems:
    print("\n".join(f"FAIL {values_path}: {p}" for p in problems))
    sys.exit(1)
print(f"ok {values_path}: {len(docs)} objects")
