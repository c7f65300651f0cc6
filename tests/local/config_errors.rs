//! Every invalid config under tests/fixtures/invalid/ fails with exactly the
//! messages written at its top (`# error: path: message`), all reported at once.

use sloprober::config::ConfigSource;
use sloprober::model::env::EnvVars;
use sloprober::model::problems::ConfigError;
use sloprober::plan;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

fn header(text: &str, key: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.strip_prefix(&format!("# {key}: ")).map(str::to_string)).collect()
}

fn env() -> EnvVars {
    EnvVars::from([("API_KEY".to_string(), "k".to_string())])
}

#[test]
fn each_fixture_reports_exactly_its_problems() {
    let files = fixtures();
    assert!(files.len() >= 25, "fixtures went missing: {}", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = header(&text, "error");
        assert!(!expected.is_empty(), "{} has no # error: line", file.display());
        let profile = header(&text, "profile").pop().unwrap_or_else(|| "smoke".into());
        let result = plan::resolve(&ConfigSource::File(file.clone()).load().unwrap(), Some(&profile), &env());
        match result {
            Err(ConfigError::Invalid { problems, .. }) => {
                let got: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
                assert_eq!(got, expected, "{}", file.display());
            }
            Err(other) => panic!("{}: unexpected error {other}", file.display()),
            Ok(_) => panic!("{}: accepted an invalid config", file.display()),
        }
    }
}

#[test]
fn check_exits_64_and_lists_every_problem() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/many-problems.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_sloprober"))
        .args(["check", "--config"])
        .arg(&file)
        .env("API_KEY", "k")
        .env_remove("TEST_TYPE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("many-problems.yaml has 4 problems:"), "{stderr}");
    assert!(
        stderr.contains(
            "scenarios.search.profiles.smoke.executor: unknown executor \"ramping-vu\"; expected one of constant-vus,"
        ),
        "{stderr}"
    );
}

#[test]
fn shipped_configs_pass_check_for_every_profile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, profiles) in [
        ("config/aivo.yaml", &["smoke", "load", "stress", "continuous"][..]),
        ("config/minimal.yaml", &["smoke", "continuous"][..]),
    ] {
        for profile in profiles {
            let out = Command::new(env!("CARGO_BIN_EXE_sloprober"))
                .args(["check", "--profile", profile, "--config"])
                .arg(root.join(file))
                .env("API_KEY", "k")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{file} {profile}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(stdout.contains(&format!("profile: {profile}")), "{stdout}");
            assert!(stdout.contains("every profile valid"), "{stdout}");
        }
    }
}

#[test]
fn aivo_carries_the_k6_suite_slos() {
    let source = ConfigSource::File(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/aivo.yaml")).load().unwrap();
    let thresholds = |profile: &str| -> Vec<(String, String)> {
        plan::resolve(&source, Some(profile), &env())
            .unwrap()
            .thresholds
            .iter()
            .map(|t| (t.metric.to_string(), t.expression.clone()))
            .collect()
    };
    let smoke = thresholds("smoke");
    for (metric, expression) in [
        ("generate_duration", "p(95)<=300"),
        ("embeddings_duration", "p(95)<=200"),
        ("answer_duration", "p(95)<=150"),
        ("create_duration", "p(95)<=200"),
        ("grade_duration", "p(95)<=300"),
        ("suggest_duration", "p(95)<=120"),
        ("search_duration", "p(95)<=200"),
        ("index_duration", "p(95)<=500"),
        ("errors", "rate<0.01"),
        ("http_req_failed", "rate<0.001"),
    ] {
        assert!(smoke.contains(&(metric.into(), expression.into())), "smoke lacks {metric} {expression}");
    }
    assert!(thresholds("load").contains(&("errors".into(), "rate<0.005".into())), "load tightens errors to 0.5 %");
    let plan = plan::resolve(&source, Some("smoke"), &env()).unwrap();
    let vus: Vec<String> = plan.scenarios.iter().map(|s| s.executor.describe()).collect();
    assert!(vus.iter().all(|d| d.starts_with("constant-vus") && d.contains("for 30s")), "{vus:?}");
}

#[test]
fn environment_overrides_the_file() {
    let source = ConfigSource::File(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/minimal.yaml")).load().unwrap();
    let mut vars = env();
    vars.insert("BASE_URL".into(), "https://staging.example.test/".into());
    vars.insert("SLOPROBER__TARGET__TIMEOUT".into(), "3s".into());
    vars.insert("SLOPROBER__SCENARIOS__HEALTH__PROFILES__SMOKE__VUS".into(), "7".into());
    let plan = plan::resolve(&source, Some("smoke"), &vars).unwrap();
    let health = &plan.scenarios[0];
    assert_eq!(health.base_url, "https://staging.example.test");
    assert_eq!(health.requests[0].timeout, std::time::Duration::from_secs(3));
    assert!(health.executor.describe().starts_with("constant-vus: 7 VUs"), "{}", health.executor.describe());
}
