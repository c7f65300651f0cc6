//! Checks on a response: one kind per file, one `Check` enum over them.

mod body_regex;
pub mod expr;
mod header;
pub mod json_path;
mod status;

pub use body_regex::BodyRegexCheck;
pub use expr::ExprCheck;
pub use header::HeaderCheck;
pub use json_path::JsonPath;
pub use status::StatusCheck;

use serde_json::Value;

/// `invalid regular expression "([a-z": unclosed character class`: the last line of the regex crate's report.
pub fn regex_error(pattern: &str, error: &regex::Error) -> String {
    let text = error.to_string();
    let reason = text.lines().last().unwrap_or_default().trim().trim_start_matches("error: ");
    format!("invalid regular expression \"{pattern}\": {reason}")
}

/// A response as checks see it; the JSON body is parsed at most once.
pub struct ResponseView<'a> {
    pub status: u16,
    pub headers: &'a reqwest::header::HeaderMap,
    pub body: &'a [u8],
    json: Option<Option<Value>>,
    cel_body: Option<cel_interpreter::Value>,
    /// What this response's expression checks read, built by the first of them.
    cel_context: Option<cel_interpreter::Context<'static>>,
}

impl<'a> ResponseView<'a> {
    pub fn new(status: u16, headers: &'a reqwest::header::HeaderMap, body: &'a [u8]) -> Self {
        ResponseView { status, headers, body, json: None, cel_body: None, cel_context: None }
    }

    /// The body as expressions see it (`null` when it is not JSON), converted once.
    pub fn cel_body(&mut self) -> cel_interpreter::Value {
        if self.cel_body.is_none() {
            let converted = self.json().map_or(cel_interpreter::Value::Null, expr::cel_value);
            self.cel_body = Some(converted);
        }
        self.cel_body.clone().unwrap_or(cel_interpreter::Value::Null)
    }

    /// The body as JSON, or None when it is not valid JSON.
    pub fn json(&mut self) -> Option<&Value> {
        self.json.get_or_insert_with(|| serde_json::from_slice(self.body).ok()).as_ref()
    }
}

/// One kind of check.
#[derive(Debug, Clone)]
pub enum Check {
    Status(StatusCheck),
    JsonPath(JsonPathCheck),
    BodyRegex(BodyRegexCheck),
    Header(HeaderCheck),
    Expr(ExprCheck),
}

/// A JSON field is present, or equal to a value.
#[derive(Debug, Clone)]
pub struct JsonPathCheck {
    pub path: JsonPath,
    pub equals: Option<Value>,
}

impl JsonPathCheck {
    fn passes(&self, response: &mut ResponseView<'_>) -> bool {
        let Some(document) = response.json() else { return false };
        match (self.path.lookup(document), &self.equals) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(found), Some(expected)) => found == expected,
        }
    }

    fn describe(&self) -> String {
        match &self.equals {
            None => format!("{} present", self.path.as_str()),
            Some(value) => format!("{} == {}", self.path.as_str(), value),
        }
    }
}

/// A check with the name it carries in the `check` label.
#[derive(Debug, Clone)]
pub struct NamedCheck {
    pub name: String,
    pub check: Check,
}

impl NamedCheck {
    /// Whether `response` passes; an expression may read the journey's `variables`.
    pub fn passes(&self, response: &mut ResponseView<'_>, variables: &[Option<Value>]) -> bool {
        match &self.check {
            Check::Status(c) => c.passes(response.status),
            Check::JsonPath(c) => c.passes(response),
            Check::BodyRegex(c) => c.passes(response.body),
            Check::Header(c) => c.passes(response.headers),
            Check::Expr(c) => c.passes(response, variables),
        }
    }
}

impl Check {
    /// Whether it reads the answer's body, which is then kept.
    pub fn reads_body(&self) -> bool {
        match self {
            Check::JsonPath(_) | Check::BodyRegex(_) => true,
            Check::Expr(e) => e.reads_body(),
            Check::Status(_) | Check::Header(_) => false,
        }
    }

    /// Whether it reads the answer's headers, which are then kept.
    pub fn reads_headers(&self) -> bool {
        match self {
            Check::Header(_) => true,
            Check::Expr(e) => e.reads_headers(),
            Check::Status(_) | Check::JsonPath(_) | Check::BodyRegex(_) => false,
        }
    }

    /// What the check asserts, its name when the config gives none: `status in [200, 201]`.
    pub fn describe(&self) -> String {
        match self {
            Check::Status(c) => c.describe(),
            Check::JsonPath(c) => c.describe(),
            Check::BodyRegex(c) => c.describe(),
            Check::Header(c) => c.describe(),
            Check::Expr(c) => c.describe(),
        }
    }
}
