//! k6 threshold expressions: `p(95)<300`, `rate<0.01`, `avg<=200`, `count>10`,
//! on a metric optionally filtered by tags: `http_req_duration{scenario:search}`.
//!
//! Parse errors point at the character. Trend values are milliseconds, as in k6.

use super::metric::CustomKind;
use std::fmt;

/// The statistic a threshold compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregation {
    Avg,
    Min,
    Max,
    Med,
    /// `p(N)`, N in (0, 100].
    Percentile(f64),
    Rate,
    Count,
    Value,
}

impl Aggregation {
    /// The aggregations k6 allows on each metric type.
    pub fn allowed_for(kind: CustomKind) -> &'static str {
        match kind {
            CustomKind::Trend => "avg, min, max, med, p(N)",
            CustomKind::Rate => "rate",
            CustomKind::Counter => "count, rate",
            CustomKind::Gauge => "value",
        }
    }

    pub fn fits(self, kind: CustomKind) -> bool {
        use Aggregation::*;
        match kind {
            CustomKind::Trend => matches!(self, Avg | Min | Max | Med | Percentile(_)),
            CustomKind::Rate => self == Rate,
            CustomKind::Counter => matches!(self, Count | Rate),
            CustomKind::Gauge => self == Value,
        }
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Avg => f.write_str("avg"),
            Aggregation::Min => f.write_str("min"),
            Aggregation::Max => f.write_str("max"),
            Aggregation::Med => f.write_str("med"),
            Aggregation::Percentile(p) => write!(f, "p({p})"),
            Aggregation::Rate => f.write_str("rate"),
            Aggregation::Count => f.write_str("count"),
            Aggregation::Value => f.write_str("value"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Operator {
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Operator::Lt => observed < limit,
            Operator::Le => observed <= limit,
            Operator::Gt => observed > limit,
            Operator::Ge => observed >= limit,
            Operator::Eq => observed == limit,
            Operator::Ne => observed != limit,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Eq => "==",
            Operator::Ne => "!=",
        }
    }
}

/// `aggregation operator value`, e.g. `p(95) < 300`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub aggregation: Aggregation,
    pub operator: Operator,
    pub value: f64,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.aggregation, self.operator.as_str(), self.value)
    }
}

/// A metric name with optional tag filters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricSelector {
    pub name: String,
    pub tags: Vec<(String, String)>,
}

impl fmt::Display for MetricSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            write!(f, "{{{}}}", tags.join(","))?;
        }
        Ok(())
    }
}

/// A cursor over the expression that remembers where it is, for error messages.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn skip_spaces(&mut self) {
        while self.text[self.pos..].starts_with(' ') {
            self.pos += 1;
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn error(&self, what: &str) -> ThresholdSyntaxError {
        ThresholdSyntaxError::Condition {
            text: self.text.to_string(),
            at: self.pos + 1,
            problem: what.to_string(),
            hint: None,
        }
    }

    fn take_while(&mut self, accept: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        let len = self.rest().find(|c: char| !accept(c)).unwrap_or(self.rest().len());
        self.pos += len;
        &self.text[start..self.pos]
    }

    fn number(&mut self) -> Result<f64, ThresholdSyntaxError> {
        self.skip_spaces();
        let token = self.take_while(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == 'e');
        token.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
            self.pos -= token.len();
            self.error("expected a number")
        })
    }

    fn expect(&mut self, token: &str) -> Result<(), ThresholdSyntaxError> {
        self.skip_spaces();
        match self.rest().strip_prefix(token) {
            Some(_) => {
                self.pos += token.len();
                Ok(())
            }
            None => Err(self.error(&format!("expected \"{token}\""))),
        }
    }
}

/// A threshold that does not parse, with where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdSyntaxError {
    #[error("invalid threshold \"{text}\": {problem} at character {at}{}", hint.as_ref().map(|h| format!("; did you mean \"{h}\"?")).unwrap_or_default())]
    Condition { text: String, at: usize, problem: String, hint: Option<String> },
    #[error("invalid metric \"{text}\": {problem}")]
    Selector { text: String, problem: &'static str },
}

/// `p95<200` as k6 writes it: `p(95)<200`.
fn percentile_hint(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix('p')?;
    let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    (digits > 0).then(|| format!("p({}){}", &rest[..digits], &rest[digits..]))
}

/// Parses `p(95)<300` and the like.
pub fn parse_condition(text: &str) -> Result<Condition, ThresholdSyntaxError> {
    let mut cursor = Cursor { text, pos: 0 };
    cursor.skip_spaces();
    let word_at = cursor.pos;
    let word = cursor.take_while(|c| c.is_ascii_alphabetic());
    let aggregation = match word {
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "max" => Aggregation::Max,
        "med" => Aggregation::Med,
        "rate" => Aggregation::Rate,
        "count" => Aggregation::Count,
        "value" => Aggregation::Value,
        "p" => {
            cursor.expect("(").map_err(|mut error| {
                if let ThresholdSyntaxError::Condition { hint, .. } = &mut error {
                    *hint = percentile_hint(text);
                }
                error
            })?;
            let at = cursor.pos;
            let p = cursor.number()?;
            if !(p > 0.0 && p <= 100.0) {
                cursor.pos = at;
                return Err(cursor.error("percentile must be in (0, 100]"));
            }
            cursor.expect(")")?;
            Aggregation::Percentile(p)
        }
        _ => {
            cursor.pos = word_at;
            return Err(cursor.error("expected avg, min, max, med, p(N), rate, count or value"));
        }
    };
    cursor.skip_spaces();
    let operator = [
        ("<=", Operator::Le),
        (">=", Operator::Ge),
        ("==", Operator::Eq),
        ("!=", Operator::Ne),
        ("<", Operator::Lt),
        (">", Operator::Gt),
    ]
    .into_iter()
    .find(|(token, _)| cursor.rest().starts_with(token))
    .map(|(token, op)| {
        cursor.pos += token.len();
        op
    })
    .ok_or_else(|| cursor.error("expected one of < <= > >= == !="))?;
    let value = cursor.number()?;
    cursor.skip_spaces();
    if !cursor.rest().is_empty() {
        return Err(cursor.error("unexpected text"));
    }
    Ok(Condition { aggregation, operator, value })
}

/// Parses a column of a Trend's summary, as k6's `summaryTrendStats` lists
/// them: `avg`, `min`, `med`, `max`, `count` or `p(N)`.
pub fn parse_trend_stat(text: &str) -> Result<Aggregation, String> {
    let wrong = || format!("\"{text}\" is not a trend stat; use avg, min, med, max, count or p(N)");
    if text.trim() != text || text.is_empty() {
        return Err(wrong());
    }
    match parse_condition(&format!("{text}>0")) {
        Ok(Condition { aggregation: a @ (Aggregation::Avg | Aggregation::Min | Aggregation::Max), .. }) => Ok(a),
        Ok(Condition {
            aggregation: a @ (Aggregation::Med | Aggregation::Count | Aggregation::Percentile(_)), ..
        }) => Ok(a),
        _ => Err(wrong()),
    }
}

/// Parses `name` or `name{tag:value,tag:value}`.
pub fn parse_selector(text: &str) -> Result<MetricSelector, ThresholdSyntaxError> {
    let bad = |problem: &'static str| ThresholdSyntaxError::Selector { text: text.to_string(), problem };
    let (name, tags) = match text.split_once('{') {
        None => (text.trim(), Vec::new()),
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}').ok_or_else(|| bad("missing \"}\""))?;
            let tags = inner
                .split(',')
                .map(|pair| {
                    let (k, v) = pair.split_once(':').ok_or_else(|| bad("tags are written key:value"))?;
                    Ok((k.trim().to_string(), v.trim().to_string()))
                })
                .collect::<Result<Vec<_>, ThresholdSyntaxError>>()?;
            (name.trim(), tags)
        }
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad("a metric name has letters, digits and \"_\" only"));
    }
    Ok(MetricSelector { name: name.to_string(), tags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_expressions() {
        let table = [
            ("p(95)<300", Aggregation::Percentile(95.0), Operator::Lt, 300.0),
            ("p(99.9) <= 1500", Aggregation::Percentile(99.9), Operator::Le, 1500.0),
            ("rate<0.01", Aggregation::Rate, Operator::Lt, 0.01),
            ("avg>=2", Aggregation::Avg, Operator::Ge, 2.0),
            ("med!=0", Aggregation::Med, Operator::Ne, 0.0),
            ("count>10", Aggregation::Count, Operator::Gt, 10.0),
            ("value==3", Aggregation::Value, Operator::Eq, 3.0),
            (" max < 5 ", Aggregation::Max, Operator::Lt, 5.0),
            ("min>1e-3", Aggregation::Min, Operator::Gt, 0.001),
        ];
        for (text, aggregation, operator, value) in table {
            assert_eq!(parse_condition(text), Ok(Condition { aggregation, operator, value }), "{text}");
        }
    }

    #[test]
    fn invalid_expressions_point_at_the_character() {
        let table = [
            ("p(95)<<300", "invalid threshold \"p(95)<<300\": expected a number at character 7"),
            ("p95<300", "invalid threshold \"p95<300\": expected \"(\" at character 2; did you mean \"p(95)<300\"?"),
            ("p(0)<1", "invalid threshold \"p(0)<1\": percentile must be in (0, 100] at character 3"),
            ("p(101)<1", "invalid threshold \"p(101)<1\": percentile must be in (0, 100] at character 3"),
            (
                "mean<3",
                "invalid threshold \"mean<3\": expected avg, min, max, med, p(N), rate, count or value at character 1",
            ),
            ("rate 0.01", "invalid threshold \"rate 0.01\": expected one of < <= > >= == != at character 6"),
            ("rate<0.01x", "invalid threshold \"rate<0.01x\": unexpected text at character 10"),
            ("avg<", "invalid threshold \"avg<\": expected a number at character 5"),
            ("", "invalid threshold \"\": expected avg, min, max, med, p(N), rate, count or value at character 1"),
        ];
        for (text, message) in table {
            assert_eq!(parse_condition(text).map_err(|e| e.to_string()), Err(message.to_string()), "{text}");
        }
    }

    #[test]
    fn selectors_with_tags() {
        assert_eq!(
            parse_selector("http_req_duration{scenario:search, request:suggest}").unwrap(),
            MetricSelector {
                name: "http_req_duration".into(),
                tags: vec![("scenario".into(), "search".into()), ("request".into(), "suggest".into())],
            }
        );
        assert!(parse_selector("errors{scenario}").is_err());
        assert!(parse_selector("bad-name").is_err());
        assert!(parse_selector("x{a:b").is_err());
    }
}
