//! The response body matches a regular expression.

use regex::bytes::Regex;

#[derive(Debug, Clone)]
pub struct BodyRegexCheck {
    regex: Regex,
}

impl BodyRegexCheck {
    pub fn new(pattern: &str) -> Result<BodyRegexCheck, String> {
        Regex::new(pattern).map(|regex| BodyRegexCheck { regex }).map_err(|e| super::regex_error(pattern, &e))
    }

    pub fn passes(&self, body: &[u8]) -> bool {
        self.regex.is_match(body)
    }

    pub fn describe(&self) -> String {
        format!("body matches /{}/", self.regex.as_str())
    }
}
