//! The response status is one of the expected codes.

/// Passes when the status is in `codes`. Its codes are also the request's
/// expected statuses: anything else counts as a failed request (reason `status`).
#[derive(Debug, Clone)]
pub struct StatusCheck {
    pub codes: Vec<u16>,
}

impl StatusCheck {
    pub fn new(codes: Vec<u16>) -> Result<StatusCheck, String> {
        if codes.is_empty() {
            return Err("list at least one status code".to_string());
        }
        if let Some(bad) = codes.iter().find(|c| !(100..=599).contains(*c)) {
            return Err(format!("{bad} is not an HTTP status code (100-599)"));
        }
        Ok(StatusCheck { codes })
    }

    pub fn passes(&self, status: u16) -> bool {
        self.codes.contains(&status)
    }

    pub fn describe(&self) -> String {
        match self.codes.as_slice() {
            [one] => format!("status is {one}"),
            many => format!("status in [{}]", many.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")),
        }
    }
}
