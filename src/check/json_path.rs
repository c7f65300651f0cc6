//! A small JSONPath subset for checks and metric feeds: `$.a.b[0]['c d']`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Index(usize),
}

/// A parsed path; `lookup` walks a JSON document without allocating.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let hint = "expected a path like $.text or $.items[0].id";
        let mut rest =
            text.strip_prefix('$').ok_or_else(|| format!("JSON path \"{text}\" must start with \"$\"; {hint}"))?;
        let mut segments = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                if end == 0 {
                    return Err(format!("empty field name in JSON path \"{text}\"; {hint}"));
                }
                segments.push(Segment::Field(after[..end].to_string()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| format!("unclosed \"[\" in JSON path \"{text}\""))?;
                let inner = after[..end].trim();
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                segments.push(match quoted {
                    Some(name) => Segment::Field(name.to_string()),
                    None => Segment::Index(inner.parse().map_err(|_| {
                        format!("\"[{inner}]\" in JSON path \"{text}\" is neither an index nor a quoted name")
                    })?),
                });
                rest = &after[end + 1..];
            } else {
                return Err(format!("unexpected \"{rest}\" in JSON path \"{text}\"; {hint}"));
            }
        }
        Ok(JsonPath { text: text.to_string(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn lookup<'v>(&self, document: &'v Value) -> Option<&'v Value> {
        self.segments.iter().try_fold(document, |node, segment| match segment {
            Segment::Field(name) => node.get(name.as_str()),
            Segment::Index(i) => node.get(*i),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_fields_and_indices() {
        let doc = json!({"a": {"items": [{"id": 7}], "odd key": true}});
        assert_eq!(JsonPath::parse("$.a.items[0].id").unwrap().lookup(&doc), Some(&json!(7)));
        assert_eq!(JsonPath::parse("$.a['odd key']").unwrap().lookup(&doc), Some(&json!(true)));
        assert_eq!(JsonPath::parse("$").unwrap().lookup(&doc), Some(&doc));
        assert_eq!(JsonPath::parse("$.a.missing").unwrap().lookup(&doc), None);
    }

    #[test]
    fn rejects_malformed_paths() {
        assert!(JsonPath::parse("text").unwrap_err().contains("must start with \"$\""));
        assert!(JsonPath::parse("$.a[x]").is_err());
        assert!(JsonPath::parse("$..a").is_err());
    }
}
