//! The request runner: one iteration picks a request by weight, renders it,
//! sends it, checks the response, records one `Sample`, then thinks.
//! Requests go over keep-alive HTTP/1.1 connections the VU drives itself
//! ([`http1`]), plain or over TLS ([`connect`]), or over an HTTP/2 session
//! where a server's TLS handshake picks it ([`h2`]); [`transport`] chooses.

mod answer;
mod body;
mod connect;
mod cookies;
mod direct;
mod feeds;
mod h2;
mod http1;
mod iteration;
mod journey;
mod outcome;
mod parallel;
mod pool;
mod redirect;
mod session;
mod tls;
mod transport;

use crate::check::ResponseView;
use crate::config::ThinkTime;
use crate::model::sample::{FailReason, Phases, Sample, SampleSink};
use crate::plan::journey::{Capture, SetupPlan};
use crate::plan::Op;
use crate::plan::{JourneyPlan, RateTruth, RequestPlan, RequestUrl, ScenarioPlan};
use crate::template::RenderContext;
use body::Encoding;
use bytes::Bytes;
use connect::Origin;
use direct::{Direct, DirectTemplate, Reach};
use http::header::{HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, USER_AGENT};
use http::{HeaderMap, Method};
use http1::KeepHeaders;
use outcome::Failed;
use rand::distr::weighted::WeightedIndex;
use std::borrow::Cow;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tls::TlsContext;
use tokio::time::Instant;

pub use journey::SetupFailed;
use session::RequestVu;

const USER_AGENT_VALUE: &str = concat!("sloprober/", env!("CARGO_PKG_VERSION"));

/// Runs one scenario's iterations.
pub struct ScenarioRunner {
    name: String,
    /// `scenario{scenario=...}`: every log line of the scenario is inside it.
    span: tracing::Span,
    /// How its https origins connect: made at start for an https base URL,
    /// else at the first redirect to https (a plain-http scenario reads no trust store).
    tls: std::sync::OnceLock<Option<TlsContext>>,
    tls_plan: crate::plan::tls::TlsPlan,
    /// The target's proxy, if any.
    proxy: Option<Arc<crate::plan::proxy::ProxyPlan>>,
    requests: Vec<PreparedRequest>,
    /// Picks the request of an iteration, or its journey when there are journeys.
    picker: WeightedIndex<u32>,
    journeys: Vec<JourneyPlan>,
    /// The index of the first request picked by weight (the setup's come before).
    first_weighted: usize,
    /// Variable slots a journey's iteration keeps.
    variables: usize,
    setup: Option<SetupPlan>,
    teardown: Option<Vec<Op>>,
    /// What the setup captured, by slot: every iteration starts with these.
    setup_values: std::sync::RwLock<Arc<Vec<Option<serde_json::Value>>>>,
    sleep: Option<ThinkTime>,
    /// `{{ counter }}`: one sequence for the whole scenario.
    counter: AtomicU64,
    sink: Arc<dyn SampleSink>,
    /// Arrival-rate scenarios report how late each iteration started.
    open_model: bool,
    /// Each VU keeps the cookies of its iteration.
    cookies: bool,
    /// Whose idle connections a request reuses.
    reuse: crate::config::Connections,
    /// Cut out of a failed request's answer before anyone sees it.
    secrets: Arc<crate::plan::secrets::Secrets>,
}

/// A request of the scenario with what is worked out once for sending it.
struct PreparedRequest {
    plan: RequestPlan,
    /// The headers it carries (its own, then the target's unless it sets
    /// the same name, user-agent, accept, accept-encoding).
    direct_headers: HeaderMap,
    /// Where it goes, when its URL is fixed.
    fixed_direct: Option<Direct>,
    /// When its path is rendered per request.
    templated_direct: Option<DirectTemplate>,
    /// The base URL's path (no trailing `/`), before a rendered path: for cookies.
    base_path: String,
    /// A check or a capture reads the answer's headers, so they are kept.
    reads_headers: bool,
}

impl PreparedRequest {
    fn new(plan: &RequestPlan, target_headers: &HeaderMap, reach: Reach<'_>) -> PreparedRequest {
        let direct_headers = direct_headers(plan, target_headers);
        let (fixed_direct, templated_direct, base_path) = match &plan.url {
            RequestUrl::Static(url) => (Direct::of(url, &plan.method, &direct_headers, reach), None, String::new()),
            RequestUrl::Templated { base, .. } => {
                let base_path = reqwest::Url::parse(base).map(|u| u.path().trim_end_matches('/').to_string());
                let template = DirectTemplate::of(base, &plan.method, &direct_headers, reach);
                (None, template, base_path.unwrap_or_default())
            }
        };
        PreparedRequest {
            plan: plan.clone(),
            direct_headers,
            fixed_direct,
            templated_direct,
            base_path,
            reads_headers: plan.keeps_headers,
        }
    }
}

/// Where one request goes, and its head up to the last header.
struct Destination<'r> {
    origin: Cow<'r, Origin>,
    head: Cow<'r, [u8]>,
}

/// A response, whichever way it came: status and headers, then the body or
/// why it could not be read.
pub(crate) struct Response {
    pub status: u16,
    /// Bytes of the answer before decoding: over HTTP/1.1 every byte read
    /// (1xx heads, chunk framing and trailers included); over HTTP/2 the
    /// head as HTTP/1.1 would carry it plus the body as received.
    pub received: u64,
    /// Empty unless a check reads them (or only `set-cookie`, for the jar).
    pub headers: HeaderMap,
    /// The body's first bytes as received (as many as the request keeps), or why it could not be read.
    pub body: Result<Bytes, FailReason>,
    /// Its `content-encoding`: decoded only when something reads the body.
    pub encoding: Encoding,
    /// Sent a second time, on a fresh connection, after the reused one closed unanswered.
    pub retried: bool,
    /// When the request went out and the answer began.
    pub marks: transport::Marks,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("scenario {scenario}: cannot set up TLS: {source}")]
    Tls { scenario: String, source: rustls::Error },
    #[error("scenario {scenario}: request weights are invalid")]
    Weights { scenario: String },
}

impl ScenarioRunner {
    pub fn new(plan: &ScenarioPlan, sink: Arc<dyn SampleSink>) -> Result<ScenarioRunner, RunnerError> {
        let span = tracing::info_span!("scenario", scenario = %plan.name);
        span.in_scope(|| ScenarioRunner::build(plan, sink, span.clone()))
    }

    /// The scenario's span: what it logs, from its setup to its last pass, names it.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    fn build(
        plan: &ScenarioPlan,
        sink: Arc<dyn SampleSink>,
        span: tracing::Span,
    ) -> Result<ScenarioRunner, RunnerError> {
        if plan.tls.insecure_skip_verify {
            tracing::warn!(
                "tls.insecure_skip_verify is set: https servers of this scenario are NOT verified; \
                 anyone on the path can answer for them"
            );
        }
        let https = plan.base_url.get(..6).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https:"));
        let tls = std::sync::OnceLock::new();
        if https {
            let context = TlsContext::new(&plan.tls, sink.clone())
                .map_err(|source| RunnerError::Tls { scenario: plan.name.clone(), source })?;
            let _ = tls.set(Some(context));
        }
        let weights: Vec<u32> = if plan.journeys.is_empty() {
            plan.requests[plan.weighted.clone()].iter().map(|r| r.weight).collect()
        } else {
            plan.journeys.iter().map(|j| j.weight).collect()
        };
        let picker = WeightedIndex::new(weights).map_err(|_| RunnerError::Weights { scenario: plan.name.clone() })?;
        Ok(ScenarioRunner {
            name: plan.name.clone(),
            span,
            requests: plan
                .requests
                .iter()
                .map(|r| {
                    let reach = Reach { tls: tls.get().and_then(Option::as_ref), proxy: plan.proxy.as_ref() };
                    PreparedRequest::new(r, &plan.headers, reach)
                })
                .collect(),
            tls,
            tls_plan: plan.tls.clone(),
            proxy: plan.proxy.clone(),
            picker,
            journeys: plan.journeys.clone(),
            first_weighted: plan.weighted.start,
            variables: plan.variables,
            setup: plan.setup.clone(),
            teardown: plan.teardown.clone(),
            setup_values: Default::default(),
            cookies: plan.cookies,
            reuse: plan.connections,
            secrets: plan.secrets.clone(),
            sleep: plan.sleep,
            counter: AtomicU64::new(0),
            sink,
            open_model: matches!(
                plan.executor.spec,
                crate::executor::ExecutorSpec::ConstantArrivalRate { .. }
                    | crate::executor::ExecutorSpec::RampingArrivalRate { .. }
            ),
        })
    }

    /// Sends request `index`, takes `captures` from its answer into the VU's
    /// variables, and describes what happened; never fails.
    pub async fn execute(&self, index: usize, captures: &[Capture], vu: &mut RequestVu, scheduled: Instant) -> Sample {
        self.execute_sharing(index, captures, vu, scheduled, None).await
    }

    /// As [`Self::execute`]; a request of a parallel block reuses the
    /// connections of its VU's `shared` pool.
    async fn execute_sharing(
        &self,
        index: usize,
        captures: &[Capture],
        vu: &mut RequestVu,
        scheduled: Instant,
        shared: Option<&std::sync::Mutex<pool::Pool>>,
    ) -> Sample {
        let mut sample = self.exchange(index, captures, vu, scheduled, shared).await;
        feeds::settle(&self.requests[index].plan, &mut sample, &vu.session.variables);
        sample
    }

    /// What templates read for `vu`'s current iteration.
    fn render_context<'a>(&'a self, vu: &'a mut RequestVu) -> RenderContext<'a> {
        RenderContext {
            vu: vu.id,
            iteration: vu.iterations,
            counter: &self.counter,
            rng: &mut vu.session.rng,
            variables: &vu.session.variables,
        }
    }

    /// One request sent and its answer judged, as [`Self::execute`] describes.
    async fn exchange(
        &self,
        index: usize,
        captures: &[Capture],
        vu: &mut RequestVu,
        scheduled: Instant,
        shared: Option<&std::sync::Mutex<pool::Pool>>,
    ) -> Sample {
        let request = &self.requests[index];
        let plan = &request.plan;
        let mut cx = self.render_context(vu);
        let rendered_path = match &plan.url {
            RequestUrl::Static(_) => None,
            RequestUrl::Templated { path, .. } => Some(path.render(&mut cx)),
        };
        let body = plan.body.render(&mut cx);
        let mut rendered_headers: Result<Vec<(HeaderName, HeaderValue)>, _> = plan
            .header_templates
            .iter()
            .map(|(name, template)| HeaderValue::try_from(template.render(&mut cx)).map(|v| (name.clone(), v)))
            .collect();
        // The path cookies are matched against (a query or a URL parser's rewrite does not change it).
        let cookie_path = || -> Cow<'_, str> {
            match (&plan.url, &rendered_path) {
                (RequestUrl::Static(url), _) => Cow::Borrowed(url.path()),
                (_, rendered) => {
                    let rendered = rendered.as_deref().unwrap_or_default();
                    Cow::Owned(format!("{}{}", request.base_path, rendered.split('?').next().unwrap_or_default()))
                }
            }
        };
        if let (true, Ok(headers)) = (self.cookies && !vu.session.cookies.is_empty(), &mut rendered_headers) {
            headers.extend(vu.session.cookies.header(&cookie_path()).map(|v| (http::header::COOKIE, v)));
        }
        let mut sample =
            Sample { bytes_sent: plan.head_bytes + body.as_ref().map_or(0, |b| b.len() as u64), ..Sample::new(index) };
        let destination = self.destination(request, rendered_path.as_deref());
        let (Some(destination), Ok(rendered_headers)) = (destination, rendered_headers) else {
            // A templated path that renders to an invalid URL, or a header
            // template to an invalid value: the request never leaves.
            sample.failure = Some(FailReason::Connect);
            return sample;
        };
        sample.bytes_sent += header_bytes(&rendered_headers);
        let keep = match (request.reads_headers, self.cookies) {
            (true, _) => KeepHeaders::All,
            (false, true) => KeepHeaders::SetCookie,
            (false, false) => KeepHeaders::None,
        };
        let Destination { origin, head } = destination;
        let deadline = Instant::now() + plan.timeout;
        let mut answered = self
            .send(request, &origin, head, &rendered_headers, body.as_ref(), &plan.method, keep, deadline, vu, shared)
            .await;
        // Each redirect followed is one more exchange of the same request, until the answer that is checked.
        let mut redirects = 0;
        let mut hop: Option<Box<redirect::Hop>> = None;
        let (Response { status, headers, body, encoding, .. }, phases) = loop {
            let (response, phases) = match answered {
                Ok(answered) => answered,
                Err(Failed { reason, detail }) => {
                    sample.latency = scheduled.elapsed();
                    sample.failure = Some(reason);
                    sample.redirects = redirects;
                    sample.detail = detail.map(|d| self.secrets.redact(&d, &[]).into());
                    return sample;
                }
            };
            sample.retried |= response.retried;
            sample.bytes_received += response.received;
            if self.cookies && !response.headers.is_empty() {
                match &hop {
                    // Another host's cookies are that host's: the jar keeps the request's host's only.
                    Some(hop) if !hop.same_host => {}
                    Some(hop) => vu.session.cookies.store(&response.headers, hop.url.path()),
                    None => vu.session.cookies.store(&response.headers, &cookie_path()),
                }
            }
            let total = match &sample.phases {
                None => phases,
                Some(before) => std::array::from_fn(|i| before[i] + phases[i]),
            };
            sample.phases = Some(total);
            let next = (redirects < plan.max_redirects && redirect::is_redirect(response.status))
                .then(|| self.next_hop(request, hop.as_deref(), rendered_path.as_deref(), &response, body.as_ref()))
                .flatten();
            let Some(next) = next else { break (response, total) };
            redirects += 1;
            let mut extra = Vec::new();
            if next.same_origin {
                extra.extend(rendered_headers.iter().filter(|(name, _)| *name != http::header::COOKIE).cloned());
            }
            if next.same_host && self.cookies && !vu.session.cookies.is_empty() {
                extra.extend(vu.session.cookies.header(next.url.path()).map(|v| (http::header::COOKIE, v)));
            }
            let hop_body = next.body.as_ref();
            sample.bytes_sent += next.direct.head.len() as u64 + 2 + header_bytes(&extra);
            sample.bytes_sent += hop_body.map_or(0, |b| b.len() as u64);
            let head = Cow::Borrowed(&next.direct.head[..]);
            // Boxed: a hop is rare, and its state should not enlarge every request's future.
            answered = Box::pin(self.send(
                request,
                &next.direct.origin,
                head,
                &extra,
                hop_body,
                &next.method,
                keep,
                deadline,
                vu,
                shared,
            ))
            .await;
            hop = Some(next);
        };
        sample.latency = scheduled.elapsed();
        sample.redirects = redirects;
        sample.phases = Some(phases);
        sample.status = Some(status);
        let body = match body.and_then(|body| match plan.keep_body {
            0 => Ok(body),
            keep => {
                let cut_short = body.len() >= keep;
                encoding.decode(body, keep, cut_short)
            }
        }) {
            Ok(body) => body,
            Err(reason) => {
                sample.failure = Some(reason);
                sample.detail = Some(self.answer(status, &headers, b"", &rendered_headers, vu));
                return sample;
            }
        };
        let mut view = ResponseView::new(status, &headers, &body);
        let mut all_passed = true;
        for (i, check) in plan.checks.iter().enumerate() {
            if check.passes(&mut view, &vu.session.variables) {
                sample.checks_passed |= 1 << i;
            } else {
                all_passed = false;
            }
        }
        if let RateTruth::Expr(expr) = &plan.rate_truth {
            sample.rate_true = Some(expr.passes(&mut view, &vu.session.variables));
        }
        sample.failure = if !plan.is_expected(status) {
            Some(FailReason::Status)
        } else if !all_passed {
            Some(FailReason::Check)
        } else {
            None
        };
        // Values are taken from answers that passed: an error page's fields are not the journey's.
        for capture in captures {
            let value = if sample.failure.is_none() { capture.read(&mut view) } else { None };
            if value.is_none() && sample.failure.is_none() {
                sample.failure = Some(FailReason::Capture);
            }
            vu.session.variables[capture.slot] = value;
        }
        let failed = sample.failure.is_some();
        sample.counter_delta = plan
            .counter
            .as_ref()
            .filter(|feed| feed.json_path.is_some() && feed.counts(failed))
            .and_then(|feed| feeds::read(feed, &mut view, 1.0));
        sample.gauge_value =
            plan.gauge.as_ref().and_then(|feed| feeds::read(feed, &mut view, f64::NAN)).filter(|v| !v.is_nan());
        if sample.failure.is_some() {
            // Read whole, undecoded, when nothing else reads the body (its status was unexpected).
            let shown = match plan.keep_body {
                0 => encoding.decode(body.clone(), answer::BODY_KEPT, true).unwrap_or(body),
                _ => body,
            };
            sample.detail = Some(self.answer(status, &headers, &shown, &rendered_headers, vu));
        }
        sample
    }

    /// What a failed request's answer showed, with the plan's secrets, the
    /// header values it sent and the values its journey captured cut out.
    fn answer(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        sent: &[(HeaderName, HeaderValue)],
        vu: &RequestVu,
    ) -> Box<str> {
        let captured = vu.session.variables.iter().flatten().filter_map(|v| v.as_str());
        let sent: Vec<&str> = sent.iter().filter_map(|(_, v)| v.to_str().ok()).chain(captured).collect();
        answer::excerpt(status, headers, body, &self.secrets, &sent)
    }

    /// Where request `request` goes this time: its head worked out at
    /// start-up, a rendered path spliced into its head, or (for a path the
    /// URL parser rewrites) one laid out from the parsed URL. None for a
    /// path that makes no URL.
    fn destination<'r>(&self, request: &'r PreparedRequest, rendered: Option<&str>) -> Option<Destination<'r>> {
        let plan = &request.plan;
        let url = match (&plan.url, rendered) {
            (RequestUrl::Static(_), _) => {
                let direct = request.fixed_direct.as_ref()?;
                return Some(Destination { origin: Cow::Borrowed(&direct.origin), head: Cow::Borrowed(&direct.head) });
            }
            (RequestUrl::Templated { base, .. }, rendered) => {
                let rendered = rendered.unwrap_or_default();
                if let Some(template) = &request.templated_direct {
                    if let Some(head) = template.head(rendered) {
                        return Some(Destination { origin: Cow::Borrowed(&template.origin), head: Cow::Owned(head) });
                    }
                }
                reqwest::Url::parse(&format!("{base}{rendered}")).ok()?
            }
        };
        let reach = Reach { tls: self.tls.get().and_then(Option::as_ref), proxy: self.proxy.as_ref() };
        let direct = Direct::of(&url, &plan.method, &request.direct_headers, reach)?;
        Some(Destination { origin: Cow::Owned(direct.origin), head: Cow::Owned(direct.head) })
    }

    /// The hop the answer to `request` redirects to; `hop` is the one that
    /// answered, None for the request as planned.
    fn next_hop(
        &self,
        request: &PreparedRequest,
        hop: Option<&redirect::Hop>,
        rendered_path: Option<&str>,
        response: &Response,
        body: Option<&Bytes>,
    ) -> Option<Box<redirect::Hop>> {
        let plan = &request.plan;
        let planned;
        let (from, start, method, body) = match hop {
            Some(hop) => (&hop.url, &hop.start, &hop.method, hop.body.clone()),
            None => {
                planned = match &plan.url {
                    RequestUrl::Static(url) => url.clone(),
                    RequestUrl::Templated { base, .. } => {
                        reqwest::Url::parse(&format!("{base}{}", rendered_path.unwrap_or_default())).ok()?
                    }
                };
                (&planned, &planned, &plan.method, body.cloned())
            }
        };
        // Made at the first redirect to https, inside the scenario's span: what it logs names the scenario.
        let tls = self
            .tls
            .get_or_init(|| self.span.in_scope(|| TlsContext::new(&self.tls_plan, self.sink.clone()).ok()))
            .as_ref();
        let reach = Reach { tls, proxy: self.proxy.as_ref() };
        redirect::next(response.status, &response.headers, from, start, method, &body, &request.direct_headers, reach)
            .map(Box::new)
    }

    /// Over what the VU's pool (its thread's, or the one its parallel block
    /// shares) has open to `origin`, before `deadline`.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        request: &PreparedRequest,
        origin: &Origin,
        head: Cow<'_, [u8]>,
        rendered_headers: &[(HeaderName, HeaderValue)],
        body: Option<&Bytes>,
        method: &Method,
        keep_headers: KeepHeaders,
        deadline: Instant,
        vu: &mut RequestVu,
        shared: Option<&std::sync::Mutex<pool::Pool>>,
    ) -> Result<(Response, Phases), Failed> {
        let plan = &request.plan;
        let head = if rendered_headers.is_empty() {
            head
        } else {
            let mut head = head.into_owned();
            for (name, value) in rendered_headers {
                head.extend_from_slice(name.as_str().as_bytes());
                head.extend_from_slice(b": ");
                head.extend_from_slice(value.as_bytes());
                head.extend_from_slice(b"\r\n");
            }
            Cow::Owned(head)
        };
        let outgoing = http1::Outgoing {
            head: &head,
            body: body.map(|b| &b[..]).unwrap_or_default(),
            announce_empty_body: matches!(*method, Method::POST | Method::PUT | Method::PATCH),
            is_head: *method == Method::HEAD,
            keep_headers,
            keep_location: plan.max_redirects > 0,
            retry_safe: is_idempotent(method),
            keep_body: plan.keep_body,
            expected_statuses: &plan.expected_statuses,
        };
        let session = &mut vu.session;
        let conns = match (self.reuse, shared) {
            (crate::config::Connections::PerThread, _) => pool::Conns::Thread,
            (crate::config::Connections::PerVu, Some(shared)) => pool::Conns::Shared(shared),
            (crate::config::Connections::PerVu, None) => pool::Conns::Vu(&mut session.pool),
        };
        let timeout = session.request_timer.at(deadline);
        tokio::select! {
            biased;
            response = transport::send(conns, origin, &outgoing) => response,
            () = timeout => Err(FailReason::Timeout.into()),
        }
    }
}

/// Idempotent (RFC 9110 9.2.2): sending it twice has the effect of sending it once.
fn is_idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE)
}

/// Bytes of header lines as written (`name: value` and CRLF).
fn header_bytes(headers: &[(HeaderName, HeaderValue)]) -> u64 {
    headers.iter().map(|(n, v)| (n.as_str().len() + v.len() + 4) as u64).sum()
}

/// A request's own fixed headers, then the target's where the request sets
/// no header of that name (fixed or templated), then user-agent, accept and
/// accept-encoding unless set. Templated headers are added per request.
fn direct_headers(request: &RequestPlan, target: &HeaderMap) -> HeaderMap {
    let mut headers = request.headers.clone();
    for (name, value) in target {
        if !request.headers.contains_key(name) && !request.header_templates.iter().any(|(n, _)| n == name) {
            headers.append(name.clone(), value.clone());
        }
    }
    for (name, default) in [(USER_AGENT, USER_AGENT_VALUE), (ACCEPT, "*/*"), (ACCEPT_ENCODING, body::ACCEPTED)] {
        if !request.header_templates.iter().any(|(n, _)| *n == name) {
            headers.entry(name).or_insert(HeaderValue::from_static(default));
        }
    }
    headers
}
