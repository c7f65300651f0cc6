//! k6's end-of-test summary data, in k6 1.1.0's two shapes: the object
//! `handleSummary(data)` receives (what `<scenario>-summary.json` holds beside
//! sloprober's own fields) and the legacy file `--summary-export` writes
//! (where a threshold's value is `true` when it failed). jq paths and CI gates
//! written for k6's files give the same answers on ours.
//!
//! As k6 does, a metric is listed only when it has samples (`vus` and
//! `vus_max` once a second has passed), a threshold's metric always, with
//! zeros when it has none.

use super::timeline::ScenarioTimeline;
use crate::model::metric::{selector, Builtin, CustomKind, Metric, Tag, Tags};
use crate::model::threshold::Aggregation;
use crate::plan::{PlannedThreshold, ScenarioPlan};
use crate::slo::{figures, trend_latency, Figures, Verdict};
use crate::stats::Snapshot;
use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The part of a run one summary covers.
pub struct Scope<'a> {
    /// Its statistics only.
    pub snapshot: &'a Snapshot,
    pub scenarios: Vec<&'a ScenarioPlan>,
    pub timelines: Vec<&'a ScenarioTimeline>,
    /// The thresholds that concern it, each with its verdict on `snapshot`.
    pub thresholds: Vec<(&'a PlannedThreshold, Verdict)>,
    /// The Trend columns, as written and computed.
    pub trend_stats: &'a [(String, Aggregation)],
}

/// What k6 1.1.0's `handleSummary(data)` receives.
#[derive(Debug, Serialize)]
pub struct SummaryData {
    pub root_group: Group,
    pub options: Options,
    pub state: State,
    pub metrics: BTreeMap<String, MetricData>,
}

/// A k6 group: its path is its parents' names joined by `::`, its id the MD5 of the path.
#[derive(Debug, Serialize)]
pub struct Group {
    pub name: String,
    pub path: String,
    pub id: String,
    pub groups: Vec<Group>,
    pub checks: Vec<CheckData>,
}

#[derive(Debug, Serialize)]
pub struct CheckData {
    pub name: String,
    pub path: String,
    pub id: String,
    pub passes: u64,
    pub fails: u64,
}

#[derive(Debug, Serialize)]
pub struct Options {
    #[serde(rename = "summaryTrendStats")]
    pub summary_trend_stats: Vec<String>,
    #[serde(rename = "summaryTimeUnit")]
    pub summary_time_unit: String,
    #[serde(rename = "noColor")]
    pub no_color: bool,
}

#[derive(Debug, Serialize)]
pub struct State {
    #[serde(rename = "isStdOutTTY")]
    pub is_stdout_tty: bool,
    #[serde(rename = "isStdErrTTY")]
    pub is_stderr_tty: bool,
    #[serde(rename = "testRunDurationMs")]
    pub test_run_duration_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct MetricData {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `time` (milliseconds), `data` (bytes) or `default`.
    pub contains: &'static str,
    pub values: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<BTreeMap<String, ThresholdOk>>,
}

#[derive(Debug, Serialize)]
pub struct ThresholdOk {
    pub ok: bool,
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Group {
    fn new(name: &str, path: String) -> Group {
        Group { name: name.to_string(), id: md5_hex(&path), path, groups: Vec::new(), checks: Vec::new() }
    }

    /// The group at `path` (`::a::b`), made with its parents when new.
    fn at(&mut self, path: &str) -> &mut Group {
        let mut node = self;
        for name in path.split("::").skip(1) {
            let index = match node.groups.iter().position(|g| g.name == name) {
                Some(index) => index,
                None => {
                    let child = Group::new(name, format!("{}::{name}", node.path));
                    node.groups.push(child);
                    node.groups.len() - 1
                }
            };
            node = &mut node.groups[index];
        }
        node
    }

    /// Adds the counts of check `name` of this group (k6 adds the same name up).
    fn count_check(&mut self, name: &str, passes: u64, fails: u64) {
        match self.checks.iter_mut().find(|c| c.name == name) {
            Some(check) => {
                check.passes += passes;
                check.fails += fails;
            }
            None => {
                let path = format!("{}::{name}", self.path);
                self.checks.push(CheckData { name: name.to_string(), id: md5_hex(&path), path, passes, fails });
            }
        }
    }
}

/// The groups entered and the checks counted, as k6's `root_group`.
fn root_group(scope: &Scope<'_>) -> Group {
    let mut root = Group::new("", String::new());
    for scenario in &scope.scenarios {
        for request in &scenario.requests {
            let Some(view) =
                scope.snapshot.requests.iter().find(|v| v.scenario == scenario.name && v.request == request.name)
            else {
                continue;
            };
            if view.stats.count == 0 {
                continue;
            }
            let group = root.at(&request.group);
            for (i, name) in view.check_names.iter().enumerate() {
                group.count_check(name, view.stats.checks_passed[i], view.stats.checks_failed[i]);
            }
        }
        // Groups entered whose requests have no checks.
        for path in &scenario.groups {
            root.at(path);
        }
    }
    root
}

fn contains(metric: &Metric) -> &'static str {
    match metric {
        Metric::Builtin(Builtin::DataSent | Builtin::DataReceived) => "data",
        m if m.kind() == CustomKind::Trend => "time",
        _ => "default",
    }
}

/// The smallest, largest and last VUs of the scope's seconds (scenarios added up).
fn vus_range(scope: &Scope<'_>) -> (f64, f64, f64) {
    let seconds = scope.timelines.iter().map(|t| t.points.len()).max().unwrap_or(0);
    let at = |i: usize| scope.timelines.iter().filter_map(|t| t.points.get(i)).map(|p| p.vus).sum::<i64>() as f64;
    let now = scope.snapshot.executors.iter().map(|e| e.vus).sum::<i64>() as f64;
    if seconds == 0 {
        return (now, now, now);
    }
    let all: Vec<f64> = (0..seconds).map(at).collect();
    let min = all.iter().copied().fold(f64::INFINITY, f64::min);
    let max = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max, all[seconds - 1])
}

/// What k6 lists for a metric without samples: each of its figures 0.
fn zeros(metric: &Metric, scope: &Scope<'_>) -> BTreeMap<String, f64> {
    let names: Vec<String> = match metric.kind() {
        CustomKind::Trend => scope.trend_stats.iter().map(|(column, _)| column.clone()).collect(),
        CustomKind::Rate => ["rate", "passes", "fails"].map(String::from).to_vec(),
        CustomKind::Counter => ["count", "rate"].map(String::from).to_vec(),
        CustomKind::Gauge => ["value", "min", "max"].map(String::from).to_vec(),
    };
    names.into_iter().map(|name| (name, 0.0)).collect()
}

/// The figures k6 lists for `metric` under `tags`; None when it has no sample.
fn values(metric: &Metric, tags: &Tags, scope: &Scope<'_>) -> Option<BTreeMap<String, f64>> {
    let snapshot = scope.snapshot;
    let mut values = BTreeMap::new();
    if metric.kind() == CustomKind::Trend {
        let latency = trend_latency(metric, tags, snapshot)?;
        for (column, aggregation) in scope.trend_stats {
            let value = match aggregation {
                Aggregation::Avg => latency.avg_ms(),
                Aggregation::Min => latency.min_ms(),
                Aggregation::Med => latency.percentile_ms(50.0),
                Aggregation::Max => latency.max_ms(),
                Aggregation::Percentile(p) => latency.percentile_ms(*p),
                Aggregation::Count => latency.count() as f64,
                Aggregation::Rate | Aggregation::Value => continue,
            };
            values.insert(column.clone(), value);
        }
        return Some(values);
    }
    match (metric, figures(metric, tags, snapshot)) {
        (_, Figures::Rate { total: 0, .. }) => return None,
        (_, Figures::Rate { rate, trues, total }) => {
            values.insert("rate".into(), rate.unwrap_or(0.0));
            values.insert("passes".into(), trues as f64);
            values.insert("fails".into(), (total - trues) as f64);
        }
        // k6 samples the VUs once a second.
        (Metric::Builtin(Builtin::Vus | Builtin::VusMax), _) if snapshot.elapsed < Duration::from_secs(1) => {
            return None
        }
        (Metric::Builtin(Builtin::Vus), _) => {
            let (min, max, last) = vus_range(scope);
            values.extend([("value".into(), last), ("min".into(), min), ("max".into(), max)]);
        }
        (Metric::Builtin(Builtin::VusMax), Figures::Gauge { value }) => {
            let value = value.unwrap_or(0.0);
            values.extend([("value".into(), value), ("min".into(), value), ("max".into(), value)]);
        }
        (_, Figures::Gauge { value: None }) => return None,
        (Metric::Custom { name, .. }, Figures::Gauge { value: Some(value) }) => {
            let ranges = snapshot.requests.iter().filter(|v| v.feeds(name)).filter_map(|v| v.stats.gauge_range);
            let (min, max) = ranges.fold((value, value), |(lo, hi), (a, b)| (lo.min(a), hi.max(b)));
            values.extend([("value".into(), value), ("min".into(), min), ("max".into(), max)]);
        }
        (_, Figures::Gauge { value: Some(value) }) => {
            values.extend([("value".into(), value), ("min".into(), value), ("max".into(), value)]);
        }
        (_, Figures::Counter { count, rate }) => {
            // A Counter has a sample once a request fed it, even of 0.
            let fed = match metric {
                Metric::Custom { name, .. } => snapshot.requests.iter().any(|v| v.feeds(name) && v.stats.count > 0),
                _ => count > 0.0,
            };
            if !fed {
                return None;
            }
            values.extend([("count".into(), count), ("rate".into(), rate)]);
        }
        (_, Figures::Trend { .. }) => return None,
    }
    Some(values)
}

impl SummaryData {
    /// The data of `scope`, as k6 would hand it to `handleSummary` after
    /// running the same load for `duration_ms`.
    pub fn of(scope: &Scope<'_>, duration_ms: f64, custom: &BTreeMap<String, CustomKind>) -> SummaryData {
        let mut metrics = BTreeMap::new();
        let mut list = |metric: &Metric, tags: &Tags, always: bool| {
            let key = selector(metric, tags);
            if metrics.contains_key(&key) {
                return;
            }
            let values = match values(metric, tags, scope) {
                Some(values) => values,
                None if always => zeros(metric, scope),
                None => return,
            };
            metrics.insert(
                key,
                MetricData { kind: metric.kind().name(), contains: contains(metric), values, thresholds: None },
            );
        };
        let fed = |name: &str| scope.scenarios.iter().any(|s| s.requests.iter().any(|r| r.feeds(name)));
        let builtins = Builtin::reported().chain([Builtin::Vus]).map(Metric::Builtin);
        let customs = custom
            .iter()
            .filter(|(name, _)| fed(name))
            .map(|(name, kind)| Metric::Custom { name: name.clone(), kind: *kind });
        for metric in builtins.chain(customs) {
            list(&metric, &Tags::new(), false);
            if metric == Metric::Builtin(Builtin::HttpReqDuration) {
                list(&metric, &Tags::from([(Tag::ExpectedResponse, "true".to_string())]), false);
            }
        }
        for (threshold, _) in &scope.thresholds {
            list(&threshold.metric, &threshold.tags, true);
        }
        for (threshold, verdict) in &scope.thresholds {
            if let Some(metric) = metrics.get_mut(&threshold.selector()) {
                metric
                    .thresholds
                    .get_or_insert_with(BTreeMap::new)
                    .insert(threshold.expression.clone(), ThresholdOk { ok: verdict.passed });
            }
        }
        SummaryData {
            root_group: root_group(scope),
            options: Options {
                summary_trend_stats: scope.trend_stats.iter().map(|(column, _)| column.clone()).collect(),
                summary_time_unit: String::new(),
                no_color: false,
            },
            state: State { is_stdout_tty: false, is_stderr_tty: false, test_run_duration_ms: duration_ms },
            metrics,
        }
    }

    /// What k6's `--summary-export` writes: each metric's values with its
    /// thresholds as `true` when failed and a Rate's `rate` named `value`;
    /// groups and checks keyed by name; no `options` or `state`.
    pub fn legacy(&self) -> Value {
        let mut metrics = Map::new();
        for (name, metric) in &self.metrics {
            let mut values: Map<String, Value> =
                metric.values.iter().map(|(k, v)| (k.clone(), Value::from(*v))).collect();
            if metric.kind == CustomKind::Rate.name() {
                if let Some(rate) = values.shift_remove("rate") {
                    values.insert("value".into(), rate);
                }
            }
            if let Some(thresholds) = &metric.thresholds {
                let failed: Map<String, Value> =
                    thresholds.iter().map(|(expression, t)| (expression.clone(), Value::from(!t.ok))).collect();
                values.insert("thresholds".into(), failed.into());
            }
            metrics.insert(name.clone(), values.into());
        }
        let mut export = Map::new();
        export.insert("root_group".into(), legacy_group(&self.root_group));
        export.insert("metrics".into(), metrics.into());
        export.into()
    }
}

fn legacy_group(group: &Group) -> Value {
    let groups: Map<String, Value> = group.groups.iter().map(|g| (g.name.clone(), legacy_group(g))).collect();
    let checks: Map<String, Value> =
        group.checks.iter().map(|c| (c.name.clone(), serde_json::to_value(c).unwrap_or(Value::Null))).collect();
    serde_json::json!({"name": group.name, "path": group.path, "id": group.id, "groups": groups, "checks": checks})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_checks_have_k6s_paths_and_ids() {
        let mut root = Group::new("", String::new());
        root.at("::g1::inner").count_check("deep", 6, 0);
        root.at("").count_check("status is 200", 2, 1);
        root.at("").count_check("status is 200", 1, 0);
        // The ids k6 1.1.0 gave the same groups and checks.
        assert_eq!(root.id, "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(root.groups[0].id, "9ccb03cc5acd728a2fe595bbd1f14da3");
        let inner = &root.groups[0].groups[0];
        assert_eq!((inner.path.as_str(), inner.id.as_str()), ("::g1::inner", "e60245afebe70f40c79b355791487095"));
        assert_eq!(inner.checks[0].path, "::g1::inner::deep");
        assert_eq!(inner.checks[0].id, "218bd44fd31086bb665d2b31a36565d3");
        let status = &root.checks[0];
        assert_eq!((status.passes, status.fails), (3, 1), "one name in one group adds up");
        assert_eq!(status.id, "6210a8cd14cd70477eba5c5e4cb3fb5f");
    }

    #[test]
    fn the_legacy_export_inverts_thresholds_and_renames_a_rates_rate() {
        let rate = MetricData {
            kind: "rate",
            contains: "default",
            values: BTreeMap::from([("rate".into(), 0.25), ("passes".into(), 1.0), ("fails".into(), 3.0)]),
            thresholds: Some(BTreeMap::from([("rate<0.1".into(), ThresholdOk { ok: false })])),
        };
        let data = SummaryData {
            root_group: Group::new("", String::new()),
            options: Options { summary_trend_stats: vec![], summary_time_unit: String::new(), no_color: false },
            state: State { is_stdout_tty: false, is_stderr_tty: false, test_run_duration_ms: 1.0 },
            metrics: BTreeMap::from([("errors".into(), rate)]),
        };
        let legacy = data.legacy();
        assert_eq!(
            legacy["metrics"]["errors"],
            serde_json::json!({"passes": 1.0, "fails": 3.0, "value": 0.25, "thresholds": {"rate<0.1": true}})
        );
        assert!(legacy.get("options").is_none() && legacy.get("state").is_none());
        assert_eq!(legacy["root_group"]["groups"], serde_json::json!({}));
    }
}
