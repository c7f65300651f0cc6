//! A request's checks compiled from the config: each `checks[i]` becomes a
//! [`NamedCheck`], every problem reported at its path.

use crate::check::expr::Names;
use crate::check::{BodyRegexCheck, Check, ExprCheck, HeaderCheck, JsonPath, JsonPathCheck, NamedCheck, StatusCheck};
use crate::config::CheckConfig;
use crate::model::problems::Problems;

/// A compile error: the field of the check it concerns, and what is wrong.
type CheckError = (&'static str, String);

/// The checks written at `path` (`scenarios.s.requests[0]`); the ones that do not compile are problems.
pub fn compile_all(written: &[CheckConfig], names: &Names<'_>, path: &str, problems: &mut Problems) -> Vec<NamedCheck> {
    let mut checks = Vec::new();
    for (i, check) in written.iter().enumerate() {
        let texts = [
            ("json_path", check.json_path.clone()),
            ("equals", check.equals.as_ref().and_then(|v| v.as_str().map(str::to_string))),
            ("body_regex", check.body_regex.clone()),
            ("header", check.header.clone()),
            ("matches", check.matches.clone()),
        ];
        for (field, text) in texts {
            if let Some(text) = text {
                super::template_not_allowed(&text, &format!("{path}.checks[{i}].{field}"), "checks", problems);
            }
        }
        match compile(check, names) {
            Ok(c) => checks.push(c),
            Err((field, message)) => {
                let at = if field.is_empty() {
                    format!("{path}.checks[{i}]")
                } else {
                    format!("{path}.checks[{i}].{field}")
                };
                problems.add(at, message);
            }
        }
    }
    checks
}

/// Builds a check from its config; exactly one kind must be given.
fn compile(config: &CheckConfig, names: &Names<'_>) -> Result<NamedCheck, CheckError> {
    let kinds: Vec<&str> = [
        config.status.as_ref().map(|_| "status"),
        config.json_path.as_ref().map(|_| "json_path"),
        config.body_regex.as_ref().map(|_| "body_regex"),
        config.header.as_ref().map(|_| "header"),
        config.expr.as_ref().map(|_| "expr"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if kinds.len() != 1 {
        return Err((
            "",
            format!(
                "a check needs exactly one of status, json_path, body_regex, header, expr; found {}",
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
    } else if let Some(source) = &config.expr {
        Check::Expr(ExprCheck::compile(source, names).map_err(|e| ("expr", e))?)
    } else if let Some(pattern) = &config.body_regex {
        Check::BodyRegex(BodyRegexCheck::new(pattern).map_err(|e| ("body_regex", e))?)
    } else {
        let name = config.header.as_deref().unwrap_or_default();
        Check::Header(HeaderCheck::new(name, config.matches.as_deref()).map_err(|e| ("header", e))?)
    };
    let name = config.name.clone().unwrap_or_else(|| check.describe());
    Ok(NamedCheck { name, check })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::ResponseView;
    use crate::config::StatusList;
    use serde_json::Value;

    fn no_names() -> Names<'static> {
        static VARS: crate::template::Vars = crate::template::Vars::new();
        Names { vars: &VARS, variables: Vec::new() }
    }

    fn view<'a>(headers: &'a reqwest::header::HeaderMap, body: &'a [u8]) -> ResponseView<'a> {
        ResponseView::new(200, headers, body)
    }

    #[test]
    fn json_checks_present_and_equal() {
        let headers = reqwest::header::HeaderMap::new();
        let body = br#"{"text": "hi", "model": "gpt-4"}"#;
        let present =
            compile(&CheckConfig { json_path: Some("$.text".into()), ..Default::default() }, &no_names()).unwrap();
        assert_eq!(present.name, "$.text present");
        assert!(present.passes(&mut view(&headers, body), &[]));
        let equal = compile(
            &CheckConfig {
                json_path: Some("$.model".into()),
                equals: Some(Value::from("gpt-3.5-turbo")),
                ..Default::default()
            },
            &no_names(),
        )
        .unwrap();
        assert!(!equal.passes(&mut view(&headers, body), &[]));
        assert!(!present.passes(&mut view(&headers, b"not json"), &[]));
    }

    #[test]
    fn header_and_body_checks() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-type", "application/json; charset=utf-8".parse().unwrap());
        let compile = |c: CheckConfig| compile(&c, &no_names()).unwrap();
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
        assert!(present.passes(&mut view(&headers, b""), &[]));
        assert!(matches.passes(&mut view(&headers, b""), &[]));
        assert!(!wrong.passes(&mut view(&headers, b""), &[]));
        assert!(!missing.passes(&mut view(&headers, b""), &[]));
        let body = compile(CheckConfig { body_regex: Some(r#""score":\s*0\.\d+"#.into()), ..Default::default() });
        assert!(body.passes(&mut view(&headers, br#"{"score": 0.8}"#), &[]));
        assert!(!body.passes(&mut view(&headers, br#"{"score": 1}"#), &[]));
        let status = compile(CheckConfig { status: Some(StatusList::Many(vec![200, 201])), ..Default::default() });
        assert_eq!(status.name, "status in [200, 201]");
        assert!(status.passes(&mut ResponseView::new(201, &headers, b""), &[]));
        assert!(!status.passes(&mut ResponseView::new(500, &headers, b""), &[]));
    }

    #[test]
    fn exactly_one_kind() {
        let both =
            CheckConfig { status: Some(StatusList::One(200)), body_regex: Some("ok".into()), ..Default::default() };
        let (_, message) = compile(&both, &no_names()).unwrap_err();
        assert_eq!(
            message,
            "a check needs exactly one of status, json_path, body_regex, header, expr; found status, body_regex"
        );
    }
}
