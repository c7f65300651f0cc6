//! A request compiled for the hot path: URL, headers and static bodies built
//! once; templates compiled; checks and metric feeds resolved.

use crate::check::{Check, JsonPath, NamedCheck};
use crate::config::{CountWhen, RequestConfig};
use crate::model::metric::CustomKind;
use crate::model::problems::Problems;
use crate::template::{JsonTemplate, Template, Variables};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Url};
use std::collections::BTreeMap;
use std::time::Duration;

/// Most checks one request may carry; results travel as a bitmask in a `Sample`.
pub const MAX_CHECKS: usize = 64;

#[derive(Debug, Clone)]
pub enum RequestUrl {
    Static(Url),
    /// `base` has no trailing slash; the rendered path is appended.
    Templated {
        base: String,
        path: Template,
    },
}

#[derive(Debug, Clone)]
pub enum RequestBody {
    None,
    Static(Bytes),
    Json(JsonTemplate),
    Text(Template),
    /// Form fields with templates, encoded per request.
    Form(Vec<(String, Template)>),
    /// Multipart fields, rendered per request.
    Multipart(Box<super::body::Multipart>),
}

impl RequestBody {
    /// The bytes one request sends.
    pub fn render(&self, cx: &mut crate::template::RenderContext<'_>) -> Option<Bytes> {
        match self {
            RequestBody::None => None,
            RequestBody::Static(bytes) => Some(bytes.clone()),
            RequestBody::Json(t) => Some(t.render(cx).to_string().into()),
            RequestBody::Text(t) => Some(t.render(cx).into()),
            RequestBody::Form(fields) => Some(super::body::render_form(fields, cx)),
            RequestBody::Multipart(multipart) => Some(multipart.render(cx)),
        }
    }
}

/// A Counter or Gauge fed from each response.
#[derive(Debug, Clone)]
pub struct MetricFeed {
    pub name: String,
    /// None: the counter adds 1 per request.
    pub json_path: Option<JsonPath>,
    /// Which requests feed it (a Gauge: every one).
    pub when: CountWhen,
}

impl MetricFeed {
    /// Whether a request that failed (`failed`) or did not feeds this metric.
    pub fn counts(&self, failed: bool) -> bool {
        match self.when {
            CountWhen::Always => true,
            CountWhen::Passed => !failed,
            CountWhen::Failed => failed,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RequestPlan {
    pub name: String,
    pub weight: u32,
    pub method: Method,
    pub url: RequestUrl,
    /// Path as written, for display.
    pub path_template: String,
    /// Headers fixed at start-up: the request's own (its `${VAR}`s resolved).
    pub headers: HeaderMap,
    /// Headers rendered for each request: the request's own with `{{ }}`,
    /// then the target's with `{{ }}` where the request sets no header of that name.
    pub header_templates: Vec<(HeaderName, Template)>,
    pub body: RequestBody,
    pub timeout: Duration,
    pub checks: Vec<NamedCheck>,
    /// Statuses that count as success; from the status check, else 200-399.
    pub expected_statuses: Vec<u16>,
    pub trend: Option<String>,
    pub rate: Option<String>,
    /// When the request's sample of its Rate is true.
    pub rate_truth: RateTruth,
    pub counter: Option<MetricFeed>,
    pub gauge: Option<MetricFeed>,
    /// Approximate bytes of the request line and headers, for `data_sent`.
    pub head_bytes: u64,
    /// The journey variable slots its path, headers and body read.
    pub reads_variables: Vec<usize>,
    /// A check or a capture reads the answer's headers, so they are kept.
    pub keeps_headers: bool,
    /// How much of the answer's body is kept: 0 when nothing reads it,
    /// else `max_body`.
    pub keep_body: usize,
    /// Its own `max_body`, else the target's.
    pub max_body: usize,
    /// Its own `max_redirects`, else the target's.
    pub max_redirects: u32,
    /// k6's path of the group it is in (`::record answers`), `""` outside any.
    pub group: String,
}

/// When a request's sample of its Rate is true.
#[derive(Debug, Clone, Default)]
pub enum RateTruth {
    /// The request failed, its content included (k6's `errors.add(!ok)` after its checks).
    #[default]
    Failed,
    /// Its check at this index failed, or no answer came.
    CheckFailed(usize),
    /// Its status is in one of these inclusive ranges (no answer: false).
    Status(Vec<(u16, u16)>),
    /// The expression yields true (without an answer it sees status 0 and a null body).
    Expr(crate::check::ExprCheck),
}

impl RequestPlan {
    /// Whether this request feeds the custom metric `name` (as its Trend, Rate, Counter or Gauge).
    pub fn feeds(&self, name: &str) -> bool {
        self.trend.as_deref() == Some(name)
            || self.rate.as_deref() == Some(name)
            || self.counter.as_ref().is_some_and(|c| c.name == name)
            || self.gauge.as_ref().is_some_and(|g| g.name == name)
    }

    pub fn is_expected(&self, status: u16) -> bool {
        expects(&self.expected_statuses, status)
    }
}

/// Whether `status` is expected of a request that lists `expected`
/// (`expected_statuses`); with none listed, any 2xx or 3xx.
pub fn expects(expected: &[u16], status: u16) -> bool {
    if expected.is_empty() {
        (200..400).contains(&status)
    } else {
        expected.contains(&status)
    }
}

/// What a request compiles against.
pub struct RequestContext<'a> {
    pub base_url: &'a str,
    pub vars: &'a crate::template::Vars,
    pub custom: &'a BTreeMap<String, CustomKind>,
    pub default_headers: &'a HeaderMap,
    /// The target's headers that hold a template.
    pub default_templates: &'a [(HeaderName, Template)],
    pub env: &'a crate::model::env::EnvVars,
    pub timeout: Duration,
    /// See [`crate::config::Target::max_body`].
    pub max_body: usize,
    /// See [`crate::config::Target::max_redirects`].
    pub max_redirects: u32,
    /// The journey's variables available at this step; none outside journeys.
    pub variables: &'a Variables,
    /// Where the files a request sends are found (the config file's directory).
    pub files: &'a std::path::Path,
}

/// A header value as written: fixed (its `${VAR}`s resolved, sensitive when
/// it had any) or a template rendered per request. Errors never echo a value.
pub fn header_value(
    written: &str,
    vars: &crate::template::Vars,
    variables: &Variables,
    env: &crate::model::env::EnvVars,
) -> Result<HeaderValueTemplate, String> {
    let template = Template::compile(written, vars, variables, env).map_err(|e| e.to_string())?;
    match template.as_static() {
        Some(text) => {
            let mut value = HeaderValue::from_str(text)
                .map_err(|_| "the value (after ${...} substitution) is not a valid header value".to_string())?;
            value.set_sensitive(written.contains("${"));
            Ok(HeaderValueTemplate::Fixed(value))
        }
        None => Ok(HeaderValueTemplate::PerRequest(template)),
    }
}

/// See [`header_value`].
pub enum HeaderValueTemplate {
    Fixed(HeaderValue),
    PerRequest(Template),
}

pub fn compile(
    config: &RequestConfig,
    cx: &RequestContext<'_>,
    path: &str,
    problems: &mut Problems,
) -> Option<RequestPlan> {
    let before = problems.len();
    if !crate::model::metric::is_label_safe(&config.name) {
        problems.add(format!("{path}.name"), crate::model::metric::LABEL_HINT.replace("{}", &config.name));
    }
    if config.weight == 0 {
        problems.add(format!("{path}.weight"), "must be at least 1");
    }
    let method = Method::from_bytes(config.method.to_ascii_uppercase().as_bytes());
    if method.is_err() {
        problems.add(format!("{path}.method"), format!("\"{}\" is not an HTTP method", config.method));
    }
    let url = if !config.path.starts_with('/') {
        problems.add(format!("{path}.path"), format!("must start with \"/\", got \"{}\"", config.path));
        None
    } else {
        compile_url(&config.path, cx, path, problems)
    };
    let mut headers = HeaderMap::new();
    let mut header_templates = Vec::new();
    for (name, value) in &config.headers {
        let at = format!("{path}.headers.{name}");
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            problems.add(at, "invalid header name");
            continue;
        };
        match header_value(value, cx.vars, cx.variables, cx.env) {
            Ok(HeaderValueTemplate::Fixed(value)) => {
                headers.insert(name, value);
            }
            Ok(HeaderValueTemplate::PerRequest(template)) => header_templates.push((name, template)),
            Err(e) => problems.add(at, e),
        }
    }
    for (name, template) in cx.default_templates {
        if !headers.contains_key(name) && !header_templates.iter().any(|(n, _)| n == name) {
            header_templates.push((name.clone(), template.clone()));
        }
    }
    let given: Vec<&str> = [
        config.json.as_ref().map(|_| "json"),
        config.body.as_ref().map(|_| "body"),
        config.form.as_ref().map(|_| "form"),
        config.multipart.as_ref().map(|_| "multipart"),
        config.body_file.as_ref().map(|_| "body_file"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let content_type = |headers: &mut HeaderMap, value: &str| {
        if !headers.contains_key(CONTENT_TYPE) {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(CONTENT_TYPE, value);
            }
        }
    };
    let scope = super::body::Scope { vars: cx.vars, variables: cx.variables, env: cx.env, files: cx.files };
    let body = match (&config.json, &config.body) {
        _ if given.len() > 1 => {
            problems.add(path, format!("{} are exclusive; give one", given.join(", ")));
            RequestBody::None
        }
        _ if config.form.is_some() => {
            content_type(&mut headers, "application/x-www-form-urlencoded");
            super::body::form(
                config.form.as_ref().unwrap_or(&BTreeMap::new()),
                &scope,
                &format!("{path}.form"),
                problems,
            )
        }
        _ if config.multipart.is_some() => {
            let fields = config.multipart.clone().unwrap_or_default();
            let multipart = super::body::multipart(&fields, &scope, &format!("{path}.multipart"), problems);
            content_type(&mut headers, &multipart.content_type());
            RequestBody::Multipart(Box::new(multipart))
        }
        _ if config.body_file.is_some() => {
            content_type(&mut headers, "application/octet-stream");
            let file = config.body_file.as_deref().unwrap_or_default();
            super::body::read_file(file, cx.files, &format!("{path}.body_file"), problems)
                .map_or(RequestBody::None, RequestBody::Static)
        }
        (Some(_), Some(_)) => RequestBody::None,
        (Some(json), None) => {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            match JsonTemplate::compile(json, cx.vars, cx.variables, cx.env) {
                Err(e) => {
                    problems.add(format!("{path}.json"), e);
                    RequestBody::None
                }
                Ok(t) => match t.as_static() {
                    Some(value) => RequestBody::Static(Bytes::from(value.to_string())),
                    None => RequestBody::Json(t),
                },
            }
        }
        (None, Some(text)) => match Template::compile(text, cx.vars, cx.variables, cx.env) {
            Err(e) => {
                problems.add(format!("{path}.body"), e);
                RequestBody::None
            }
            Ok(t) => match t.as_static() {
                Some(text) => RequestBody::Static(Bytes::from(text.to_string())),
                None => RequestBody::Text(t),
            },
        },
        (None, None) => RequestBody::None,
    };
    if config.checks.len() > MAX_CHECKS {
        problems.add(format!("{path}.checks"), format!("at most {MAX_CHECKS} checks per request"));
    }
    let names = crate::check::expr::Names {
        vars: cx.vars,
        variables: (0..cx.variables.len())
            .filter(|slot| cx.variables.is_available(*slot))
            .map(|slot| (cx.variables.name(slot).to_string(), slot))
            .collect(),
    };
    let checks = super::checks::compile_all(&config.checks, &names, path, problems);
    let rate_truth = config
        .rate
        .as_ref()
        .map_or(RateTruth::Failed, |rate| rate_truth(rate, &checks, &names, &format!("{path}.rate"), problems));
    let expected_statuses = checks
        .iter()
        .find_map(|c| match &c.check {
            Check::Status(s) => Some(s.codes.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let mut feed = |field: &str, name: &str, kind: CustomKind| match cx.custom.get(name) {
        Some(k) if *k == kind => {}
        Some(k) => {
            problems.add(format!("{path}.{field}"), format!("\"{name}\" is a {}, not a {}", k.name(), kind.name()))
        }
        None => problems.add(
            format!("{path}.{field}"),
            format!("\"{name}\" is not declared; add it to metrics.custom as {name}: {}", kind.name()),
        ),
    };
    if let Some(name) = &config.trend {
        feed("trend", name, CustomKind::Trend);
    }
    if let Some(rate) = &config.rate {
        feed("rate", &rate.name, CustomKind::Rate);
    }
    if let Some(c) = &config.counter {
        feed("counter", &c.name, CustomKind::Counter);
    }
    if let Some(g) = &config.gauge {
        feed("gauge", &g.name, CustomKind::Gauge);
    }
    if let Some(c) = config.counter.as_ref().filter(|c| c.when == CountWhen::Failed && c.json_path.is_some()) {
        let read = c.json_path.as_deref().unwrap_or_default();
        problems.add(
            format!("{path}.counter.when"),
            format!("a failed request may have no answer to read {read} from; count failures without json_path"),
        );
    }
    let mut json_path = |field: &str, text: Option<&str>| {
        text.and_then(|t| JsonPath::parse(t).map_err(|e| problems.add(format!("{path}.{field}.json_path"), e)).ok())
    };
    let counter = config.counter.as_ref().map(|c| MetricFeed {
        name: c.name.clone(),
        json_path: json_path("counter", c.json_path.as_deref()),
        when: c.when,
    });
    let gauge = config.gauge.as_ref().map(|g| MetricFeed {
        name: g.name.clone(),
        json_path: json_path("gauge", Some(&g.json_path)),
        when: CountWhen::Always,
    });
    if problems.len() != before {
        return None;
    }
    let method = method.ok()?;
    let head_bytes = (method.as_str().len() + config.path.len() + 12) as u64
        + cx.default_headers
            .iter()
            .chain(headers.iter())
            .map(|(n, v)| (n.as_str().len() + v.len() + 4) as u64)
            .sum::<u64>();
    let mut reads_variables: Vec<usize> = header_templates.iter().flat_map(|(_, t)| t.variables()).collect();
    if let Some(RequestUrl::Templated { path, .. }) = &url {
        reads_variables.extend(path.variables());
    }
    reads_variables.extend(super::body::variables(&body));
    reads_variables.sort_unstable();
    reads_variables.dedup();
    let rate_expr = match &rate_truth {
        RateTruth::Expr(expr) => Some(expr),
        _ => None,
    };
    let keeps_headers = checks.iter().any(|c| c.check.reads_headers()) || rate_expr.is_some_and(|e| e.reads_headers());
    let reads_body = checks.iter().any(|c| c.check.reads_body())
        || rate_expr.is_some_and(|e| e.reads_body())
        || counter.as_ref().is_some_and(|c| c.json_path.is_some())
        || gauge.as_ref().is_some_and(|g| g.json_path.is_some());
    Some(RequestPlan {
        reads_variables,
        keeps_headers,
        keep_body: if reads_body { config.max_body.unwrap_or(cx.max_body) } else { 0 },
        max_body: config.max_body.unwrap_or(cx.max_body),
        max_redirects: config.max_redirects.unwrap_or(cx.max_redirects),
        name: config.name.clone(),
        weight: config.weight,
        method,
        url: url?,
        path_template: config.path.clone(),
        headers,
        header_templates,
        body,
        timeout: config.timeout.unwrap_or(cx.timeout),
        checks,
        expected_statuses,
        trend: config.trend.clone(),
        rate: config.rate.as_ref().map(|r| r.name.clone()),
        rate_truth,
        counter,
        gauge,
        head_bytes,
        group: String::new(),
    })
}

/// What makes a Rate's sample true, checked at `path`.
fn rate_truth(
    rate: &crate::config::RateFeed,
    checks: &[crate::check::NamedCheck],
    names: &crate::check::expr::Names<'_>,
    path: &str,
    problems: &mut Problems,
) -> RateTruth {
    let given = [rate.check.is_some(), rate.status.is_some(), rate.expr.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        problems.add(path, "give at most one of check, status, expr");
        return RateTruth::Failed;
    }
    if let Some(name) = &rate.check {
        return match checks.iter().position(|c| &c.name == name) {
            Some(index) => RateTruth::CheckFailed(index),
            None => {
                let known: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
                problems.add(
                    format!("{path}.check"),
                    format!("the request has no check named \"{name}\"; its checks: {}", known.join(", ")),
                );
                RateTruth::Failed
            }
        };
    }
    if let Some(statuses) = &rate.status {
        let mut ranges = Vec::new();
        for (i, written) in statuses.iter().enumerate() {
            let range = match written.as_bytes() {
                [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => {
                    let base = u16::from(d - b'0') * 100;
                    Some((base, base + 99))
                }
                _ => written.parse::<u16>().ok().filter(|c| (100..=599).contains(c)).map(|c| (c, c)),
            };
            match range {
                Some(range) => ranges.push(range),
                None => problems.add(
                    format!("{path}.status[{i}]"),
                    format!("\"{written}\" is not a status code (100-599) or class (1xx-5xx)"),
                ),
            }
        }
        return RateTruth::Status(ranges);
    }
    if let Some(source) = &rate.expr {
        return match crate::check::ExprCheck::compile(source, names) {
            Ok(expr) => RateTruth::Expr(expr),
            Err(problem) => {
                problems.add(format!("{path}.expr"), problem);
                RateTruth::Failed
            }
        };
    }
    RateTruth::Failed
}

fn compile_url(text: &str, cx: &RequestContext<'_>, path: &str, problems: &mut Problems) -> Option<RequestUrl> {
    let template = Template::compile(text, cx.vars, cx.variables, cx.env)
        .map_err(|e| problems.add(format!("{path}.path"), e))
        .ok()?;
    match template.as_static() {
        Some(p) => match Url::parse(&format!("{}{p}", cx.base_url)) {
            Ok(url) => Some(RequestUrl::Static(url)),
            Err(e) => {
                problems.add(format!("{path}.path"), format!("does not make a valid URL: {e}"));
                None
            }
        },
        None => Some(RequestUrl::Templated { base: cx.base_url.to_string(), path: template }),
    }
}
