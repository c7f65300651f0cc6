//! The demo's endpoints, shaped like the AIVO k6 suite expects them.

use super::store::{Action, Kind, Refusal, Store};
use super::{DemoTarget, Injected};
use crate::server::http::{empty, json, read_body, DropConnection, HttpResponse};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

const MODELS: &[&str] = &["gpt-3.5-turbo", "gpt-4"];
const BODY_LIMIT: usize = 1 << 20;

/// Which endpoint a method and path name, if any, and the object id in the path.
fn route<'p>(method: &Method, path: &'p str) -> Option<(&'static str, &'p str)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match (method, segments.as_slice()) {
        (&Method::GET, ["health"] | ["api", "v1", "health"]) => ("health", ""),
        (&Method::POST, ["api", "v1", "generate"]) => ("generate", ""),
        (&Method::POST, ["api", "v1", "embeddings"]) => ("embeddings", ""),
        (&Method::POST, ["api", "v1", "assessments"]) => ("create", ""),
        (&Method::POST, ["api", "v1", "assessments", id, "answers"]) => ("answer", id),
        (&Method::POST, ["api", "v1", "assessments", id, "grade"]) => ("grade", id),
        (&Method::DELETE, ["api", "v1", "assessments", id]) => ("delete_assessment", id),
        (&Method::GET, ["api", "v1", "search", "suggest"]) => ("suggest", ""),
        (&Method::POST, ["api", "v1", "search"]) => ("search", ""),
        (&Method::POST, ["api", "v1", "search", "index"]) => ("index", ""),
        (&Method::POST, ["api", "v1", "search", "index", "upload"]) => ("upload", ""),
        (&Method::DELETE, ["api", "v1", "search", "index", id]) => ("delete_document", id),
        (&Method::POST, ["api", "v1", "login"]) => ("login", ""),
        (&Method::GET, ["api", "v1", "me"]) => ("me", ""),
        _ => return None,
    })
}

/// The session a request carries: its `session` cookie, else an `x-session` header.
fn session_cookie(request: &Request<Incoming>) -> Option<String> {
    let headers = request.headers();
    let cookie = headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| line.split(';').find_map(|pair| pair.trim().strip_prefix("session=").map(str::to_string)));
    cookie.or_else(|| headers.get("x-session").and_then(|v| v.to_str().ok()).map(str::to_string))
}

pub async fn handle(target: &DemoTarget, request: Request<Incoming>) -> Result<HttpResponse, DropConnection> {
    let path = request.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/admin/") {
        return Ok(admin(target, rest, request).await);
    }
    let Some((endpoint, id)) = route(request.method(), &path) else {
        return Ok(json(StatusCode::NOT_FOUND, &json!({"error": "not found", "path": path})));
    };
    let id = id.to_string();
    let session = session_cookie(&request);
    let expected = format!("Bearer {}", target.api_key);
    let authorized =
        request.headers().get(hyper::header::AUTHORIZATION).is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !authorized {
        target.unauthorized.fetch_add(1, Ordering::Relaxed);
        return Ok(json(StatusCode::UNAUTHORIZED, &json!({"error": "missing or wrong bearer token"})));
    }
    let query = request.uri().query().unwrap_or("").to_string();
    let content_type =
        request.headers().get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = read_body(request, BODY_LIMIT).await.unwrap_or_default();
    let fault = target.fault(endpoint);
    // Decide the outcome before sleeping so the RNG is not held across an await.
    let n = target.arrival(endpoint);
    let (delay, roll) = (fault.latency(&mut rand::rng(), n), super::Fault::roll(n));
    tokio::time::sleep(delay).await;
    target.count(endpoint);
    if roll < fault.reset_rate {
        target.count_injected(endpoint, Injected::Reset);
        return Err(DropConnection);
    }
    if roll < fault.reset_rate + fault.error_rate {
        target.count_injected(endpoint, Injected::Error);
        let status = StatusCode::from_u16(fault.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Ok(json(status, &json!({"error": "injected failure", "endpoint": endpoint})));
    }
    if roll < fault.reset_rate + fault.error_rate + fault.garbage_rate {
        target.count_injected(endpoint, Injected::Garbage);
        return Ok(crate::server::http::text(StatusCode::OK, "<html>garbage</html>"));
    }
    let breaks_contract = roll < fault.reset_rate + fault.error_rate + fault.garbage_rate + fault.contract_rate;
    if breaks_contract {
        target.count_injected(endpoint, Injected::Contract);
    }
    if endpoint == "upload" {
        return Ok(match breaks_contract {
            // Refuses the file as a service that lost multipart support does.
            true => upload(&target.store, "application/json", &body),
            false => upload(&target.store, &content_type, &body),
        });
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let asked = Asked { endpoint, id: &id, body: &body, query: &query, session: session.as_deref() };
    let response = respond(&target.store, &asked);
    Ok(if breaks_contract { broken(endpoint, response).await } else { response })
}

/// `POST /api/v1/search/index/upload`: a document as a file of a
/// `multipart/form-data` body (its part named `file`), indexed as `index` does.
fn upload(store: &Store, content_type: &str, body: &[u8]) -> HttpResponse {
    let Some((filename, bytes)) = multipart_file(content_type, body) else {
        return json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &json!({"error": "expected multipart/form-data with a file in the part named file"}),
        );
    };
    let id = format!("doc-{}", uuid::Uuid::new_v4().simple());
    store.create(Kind::Document, &id);
    json(StatusCode::ACCEPTED, &json!({"id": id, "indexed": true, "filename": filename, "bytes": bytes}))
}

/// The filename and size of the part named `file` of a multipart body, when it has one with a filename.
fn multipart_file(content_type: &str, body: &[u8]) -> Option<(String, usize)> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params.split(';').find_map(|p| p.trim().strip_prefix("boundary="))?.trim_matches('"');
    let body = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    body.split(delimiter.as_str()).find_map(|part| {
        let (head, content) = part.strip_prefix("\r\n")?.split_once("\r\n\r\n")?;
        let disposition = head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
        if !disposition.contains("name=\"file\"") {
            return None;
        }
        let filename = disposition.split("filename=\"").nth(1)?.split('"').next()?.to_string();
        Some((filename, content.strip_suffix("\r\n").unwrap_or(content).len()))
    })
}

/// `response` with its body changed so that it breaks the endpoint's
/// contract while its status stays: the wrong model or mode echoed, the
/// embedding left out, suggestions that do not start with the query,
/// results out of order, an answer or index not recorded.
async fn broken(endpoint: &str, response: HttpResponse) -> HttpResponse {
    use http_body_util::BodyExt;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return hyper::Response::from_parts(parts, http_body_util::Full::new(bytes));
    };
    match endpoint {
        "generate" => value["model"] = json!("gpt-4o-mini"),
        "embeddings" => drop(value.as_object_mut().map(|o| o.remove("embedding"))),
        "create" => value["status"] = json!("pending"),
        "answer" => value["recorded"] = json!(false),
        "grade" => value["mode"] = json!("unknown"),
        "suggest" => value["suggestions"] = json!(["zebra", "zinc"]),
        "search" => {
            if let Some(results) = value["results"].as_array_mut() {
                results.reverse();
            }
        }
        "index" => value["indexed"] = json!(false),
        "health" => value["status"] = json!("degraded"),
        _ => {}
    }
    let mut response = json(parts.status, &value);
    *response.headers_mut() = parts.headers;
    response
}

/// What a request asks of an endpoint.
struct Asked<'a> {
    endpoint: &'static str,
    /// The object id in the path, or "".
    id: &'a str,
    body: &'a Value,
    query: &'a str,
    session: Option<&'a str>,
}

fn refused(refusal: Refusal, what: &str) -> HttpResponse {
    match refusal {
        Refusal::Unknown => json(StatusCode::NOT_FOUND, &json!({"error": format!("no such {what}")})),
        Refusal::NoAnswers => json(StatusCode::CONFLICT, &json!({"error": "no answers recorded yet"})),
    }
}

fn bad_request(message: &str) -> HttpResponse {
    json(StatusCode::BAD_REQUEST, &json!({"error": message}))
}

fn respond(store: &Store, asked: &Asked<'_>) -> HttpResponse {
    let Asked { endpoint, body, query, .. } = *asked;
    let id = uuid::Uuid::new_v4().to_string();
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    match endpoint {
        "health" => json(StatusCode::OK, &json!({"status": "ok"})),
        "generate" => match (field("model"), field("prompt")) {
            (Some(model), Some(prompt)) if MODELS.contains(&model) => json(
                StatusCode::OK,
                &json!({
                    "id": id,
                    "model": model,
                    "text": format!("A short answer to: {}", prompt.chars().take(40).collect::<String>()),
                    "usage": {"prompt_tokens": prompt.split_whitespace().count(), "completion_tokens": 24},
                }),
            ),
            (Some(_), Some(_)) => bad_request("unknown model; use gpt-3.5-turbo or gpt-4"),
            _ => bad_request("model and prompt are required"),
        },
        "embeddings" => match field("input") {
            Some(input) => {
                let seed = input.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
                let embedding: Vec<f64> = (0..8).map(|i| ((seed.rotate_left(i * 4) % 1000) as f64) / 1000.0).collect();
                json(StatusCode::OK, &json!({"model": "text-embedding", "embedding": embedding, "dimensions": 8}))
            }
            None => bad_request("input is required"),
        },
        "create" => {
            store.create(Kind::Assessment, &id);
            json(StatusCode::CREATED, &json!({"id": id, "status": "created", "title": field("title")}))
        }
        "answer" => match (field("learner_id"), field("question_id")) {
            (Some(learner), Some(question)) => match store.touch(Kind::Assessment, asked.id, Action::Answer) {
                Ok(answers) => json(
                    StatusCode::CREATED,
                    &json!({"answer_id": id, "learner_id": learner, "question_id": question, "recorded": true, "answers": answers}),
                ),
                Err(refusal) => refused(refusal, "assessment"),
            },
            _ => bad_request("learner_id and question_id are required"),
        },
        "grade" => match store.touch(Kind::Assessment, asked.id, Action::Grade) {
            Ok(answers) => json(
                StatusCode::OK,
                &json!({"status": "graded", "score": 0.8, "answers": answers, "mode": field("mode").unwrap_or("auto")}),
            ),
            Err(refusal) => refused(refusal, "assessment"),
        },
        "delete_assessment" => match store.delete(Kind::Assessment, asked.id) {
            Ok(()) => empty(StatusCode::NO_CONTENT),
            Err(refusal) => refused(refusal, "assessment"),
        },
        "delete_document" => match store.delete(Kind::Document, asked.id) {
            Ok(()) => empty(StatusCode::NO_CONTENT),
            Err(refusal) => refused(refusal, "document"),
        },
        "login" => match field("username") {
            Some(user) => {
                store.create(Kind::Session, &id);
                let mut response = json(StatusCode::OK, &json!({"user": user, "logged_in": true, "token": id}));
                if let Ok(cookie) = hyper::header::HeaderValue::from_str(&format!("session={id}; Path=/; HttpOnly")) {
                    response.headers_mut().append(hyper::header::SET_COOKIE, cookie);
                }
                response
            }
            None => bad_request("username is required"),
        },
        "me" => match asked.session.map(|s| store.touch(Kind::Session, s, Action::Read)) {
            Some(Ok(_)) => json(StatusCode::OK, &json!({"session": "valid"})),
            Some(Err(_)) | None => json(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "log in first: no valid session cookie or x-session header"}),
            ),
        },
        "suggest" => {
            let q = query.split('&').find_map(|kv| kv.strip_prefix("q=")).unwrap_or("");
            json(
                StatusCode::OK,
                &json!({"query": q, "suggestions": [format!("{q} basics"), format!("{q} practice"), format!("{q} quiz")]}),
            )
        }
        "search" => match field("query") {
            Some(q) => json(
                StatusCode::OK,
                &json!({"total": 2, "filters": body.get("filters"), "results": [
                    {"id": "doc-1", "title": format!("Intro to {q}"), "score": 0.92},
                    {"id": "doc-2", "title": format!("{q} exercises"), "score": 0.81},
                ]}),
            ),
            None => bad_request("query is required"),
        },
        "index" => {
            let doc = field("id").unwrap_or(&id);
            store.create(Kind::Document, doc);
            json(StatusCode::ACCEPTED, &json!({"id": doc, "indexed": true}))
        }
        _ => json(StatusCode::NOT_FOUND, &json!({"error": "not found"})),
    }
}

async fn admin(target: &DemoTarget, rest: &str, request: Request<Incoming>) -> HttpResponse {
    let method = request.method().clone();
    match (method, rest) {
        (Method::GET, "faults") => json(StatusCode::OK, &faults_json(target)),
        (Method::DELETE, "faults") => {
            *target.faults.write().unwrap_or_else(|p| p.into_inner()) = super::Faults::default();
            json(StatusCode::OK, &faults_json(target))
        }
        (Method::POST, "faults") => {
            let body = read_body(request, BODY_LIMIT).await.unwrap_or_default();
            let patch: BTreeMap<String, super::FaultPatch> = match serde_json::from_slice(&body) {
                Ok(p) => p,
                Err(e) => return bad_request(&format!("expected {{\"endpoint\": {{\"delay_ms\": ...}}}}: {e}")),
            };
            let applied = target.set_faults(&patch);
            match applied {
                Ok(()) => json(StatusCode::OK, &faults_json(target)),
                Err(e) => bad_request(&e),
            }
        }
        (Method::GET, "stats") => json(StatusCode::OK, &target.stats()),
        _ => json(
            StatusCode::NOT_FOUND,
            &json!({"error": "admin endpoints: GET/POST/DELETE /admin/faults, GET /admin/stats"}),
        ),
    }
}

fn faults_json(target: &DemoTarget) -> Value {
    serde_json::to_value(&*target.faults.read().unwrap_or_else(|p| p.into_inner())).unwrap_or(Value::Null)
}
