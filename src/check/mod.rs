//! Checks on a response: one kind per file, one `Check` enum over them.

mod body_regex;
mod header;
pub mod json_path;
mod status;

pub use body_regex::BodyRegexCheck;
pub use header::HeaderCheck;
pub use json_path::JsonPath;
pub use status::StatusCheck;

use crate::config::CheckConfig;
use serde_json::Value;

/// `invalid regular expression "([a-z": unclosed character class`: the last line of the regex crate's report.
pub(crate) fn regex_error(pattern: &str, error: &regex::Error) -> String {
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
}

impl<'a> ResponseView<'a> {
    pub fn new(status: u16, headers: &'a reqwest::header::HeaderMap, body: &'a [u8]) -> Self {
        ResponseView { status, headers, body, json: None }
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

/// A compile error: the field of the check it concerns, and what is wrong.
pub type CheckError = (&'static str, String);

impl NamedCheck {
    /// Builds a check from its config; exactly one kind must be given.
    pub fn compile(config: &CheckConfig) -> Result<NamedCheck, CheckError> {
        let kinds: Vec<&str> = [
            config.status.as_ref().map(|_| "status"),
            config.json_path.as_ref().map(|_| "json_path"),
            config.body_regex.as_ref().map(|_| "body_regex"),
            config.header.as_ref().map(|_| "header"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() != 1 {
            return Err((
                "",
                format!(
                    "a check needs exactly one of status, json_path, body_regex, header; found {}",
                    if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") }
                ),
            ));
        }
        if config.equals.is_some() && config.json_path.is_none() {
            return Err(("equals", "equals goes with json_path".to_string()));
        }
        if config.matches.is_some() && config.header.is_none() {
            return Err(("matches", "matches goes with header".to_string()));
        }
        let check = if let Some(status) = &config.status {
            Check::Status(StatusCheck::new(status.codes()).map_err(|e| ("status", e))?)
        } else if let Some(path) = &config.json_path {
            Check::JsonPath(JsonPathCheck {
                path: JsonPath::parse(path).map_err(|e| ("json_path", e))?,
                equals: config.equals.clone(),
            })
        } else if let Some(pattern) = &config.body_regex {
            Check::BodyRegex(BodyRegexCheck::new(pattern).map_err(|e| ("body_regex", e))?)
        } else {
            let name = config.header.as_deref().unwrap_or_default();
            Check::Header(HeaderCheck::new(name, config.matches.as_deref()).map_err(|e| ("header", e))?)
        };
        let name = config.name.clone().unwrap_or_else(|| check.describe());
        Ok(NamedCheck { name, check })
    }

    pub fn passes(&self, response: &mut ResponseView<'_>) -> bool {
        match &self.check {
            Check::Status(c) => c.passes(response.status),
            Check::JsonPath(c) => c.passes(response),
            Check::BodyRegex(c) => c.passes(response.body),
            Check::Header(c) => c.passes(response.headers),
        }
    }
}

impl Check {
    fn describe(&self) -> String {
        match self {
            Check::Status(c) => c.describe(),
            Check::JsonPath(c) => c.describe(),
            Check::BodyRegex(c) => c.describe(),
            Check::Header(c) => c.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StatusList;

    fn view<'a>(headers: &'a reqwest::header::HeaderMap, body: &'a [u8]) -> ResponseView<'a> {
        ResponseView::new(200, headers, body)
    }

    #[test]
    fn json_checks_present_and_equal() {
        let headers = reqwest::header::HeaderMap::new();
        let body = br#"{"text": "hi", "model": "gpt-4"}"#;
        let present =
            NamedCheck::compile(&CheckConfig { json_path: Some("$.text".into()), ..Default::default() }).unwrap();
        assert_eq!(present.name, "$.text present");
        assert!(present.passes(&mut view(&headers, body)));
        let equal = NamedCheck::compile(&CheckConfig {
            json_path: Some("$.model".into()),
            equals: Some(Value::from("gpt-3.5-turbo")),
            ..Default::default()
        })
        .unwrap();
        assert!(!equal.passes(&mut view(&headers, body)));
        assert!(!present.passes(&mut view(&headers, b"not json")));
    }

    #[test]
    fn header_and_body_checks() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-type", "application/json; charset=utf-8".parse().unwrap());
        let compile = |c: CheckConfig| NamedCheck::compile(&c).unwrap();
        let present = compile(CheckConfig { header: Some("Content-Type".into()), ..Default::default() });
        let matches = compile(CheckConfig {
            header: Some("content-type".into()),
            matches: Some("^application/json".into()),
            ..Default::default()
        });
        let wrong = compile(CheckConfig {
            header: Some("content-type".into()),
            matches: Some("xml".into()),
            ..Default::default()
        });
        let missing = compile(CheckConfig { header: Some("etag".into()), ..Default::default() });
        assert_eq!(matches.name, "header content-type matches /^application/json/");
        assert!(present.passes(&mut view(&headers, b"")));
        assert!(matches.passes(&mut view(&headers, b"")));
        assert!(!wrong.passes(&mut view(&headers, b"")));
        assert!(!missing.passes(&mut view(&headers, b"")));
        let body = compile(CheckConfig { body_regex: Some(r#""score":\s*0\.\d+"#.into()), ..Default::default() });
        assert!(body.passes(&mut view(&headers, br#"{"score": 0.8}"#)));
        assert!(!body.passes(&mut view(&headers, br#"{"score": 1}"#)));
        let status = compile(CheckConfig { status: Some(StatusList::Many(vec![200, 201])), ..Default::default() });
        assert_eq!(status.name, "status in [200, 201]");
        assert!(status.passes(&mut ResponseView::new(201, &headers, b"")));
        assert!(!status.passes(&mut ResponseView::new(500, &headers, b"")));
    }

    #[test]
    fn exactly_one_kind() {
        let both =
            CheckConfig { status: Some(StatusList::One(200)), body_regex: Some("ok".into()), ..Default::default() };
        let (_, message) = NamedCheck::compile(&both).unwrap_err();
        assert_eq!(
            message,
            "a check needs exactly one of status, json_path, body_regex, header; found status, body_regex"
        );
    }
}
