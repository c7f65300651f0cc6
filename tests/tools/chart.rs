//! The Helm chart: `helm lint --strict` and `helm template` for the default
//! values and every ci/*-values.yaml, `kubernetes-validate --strict`, the
//! operator objects, and values.schema.json rejecting bad values
//! (scripts/check-chart.sh installs pinned helm and kubernetes-validate).

use std::process::Command;

#[test]
fn chart_lints_renders_and_validates() {
    let out =
        Command::new("bash").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/check-chart.sh")).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    for values in [
        "-",
        "minimal-values",
        "full-values",
        "existing-secret-values",
        "three-replicas-values",
        "tls-values",
        "distributed-run-values",
    ] {
        assert!(
            report.lines().any(|l| l.starts_with("ok ") && l.contains(values)),
            "{values} was not checked:\n{report}"
        );
    }
    assert!(report.contains("chart ok: helm v3.17"), "{report}");
}
