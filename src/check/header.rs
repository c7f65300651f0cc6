//! A response header is present, or matches a regular expression.

use regex::Regex;
use reqwest::header::{HeaderMap, HeaderName};

#[derive(Debug, Clone)]
pub struct HeaderCheck {
    name: HeaderName,
    matches: Option<Regex>,
}

impl HeaderCheck {
    pub fn new(name: &str, matches: Option<&str>) -> Result<HeaderCheck, String> {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("\"{name}\" is not a valid header name"))?;
        let matches =
            matches.map(|pattern| Regex::new(pattern).map_err(|e| super::regex_error(pattern, &e))).transpose()?;
        Ok(HeaderCheck { name, matches })
    }

    pub fn passes(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(&self.name).iter().peekable();
        match &self.matches {
            None => values.peek().is_some(),
            Some(regex) => values.any(|v| v.to_str().is_ok_and(|v| regex.is_match(v))),
        }
    }

    pub fn describe(&self) -> String {
        match &self.matches {
            None => format!("header {} present", self.name),
            Some(regex) => format!("header {} matches /{}/", self.name, regex.as_str()),
        }
    }
}
