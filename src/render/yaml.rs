//! A small YAML writer for generated files: block style, keys in the order
//! given, multi-line strings as `|-` blocks so PromQL stays readable.

use serde_json::Value;

/// Renders `value` as YAML, keys in insertion order (serde_json's `preserve_order`).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0, false);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn plain_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

fn is_block_string(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.contains('\n'))
}

fn write_block_string(out: &mut String, text: &str, indent: usize) {
    out.push_str("|-\n");
    for line in text.lines() {
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Writes `value` at `indent`; `inline` when the caller already wrote "key: " or "- ".
fn write_value(out: &mut String, value: &Value, indent: usize, inline: bool) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut first = true;
            for (key, v) in map {
                if !(first && inline) {
                    out.push_str(&" ".repeat(indent));
                }
                first = false;
                let key = if plain_key(key) { key.clone() } else { serde_json::to_string(key).unwrap_or_default() };
                out.push_str(&key);
                out.push(':');
                write_child(out, v, indent + 2);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let mut first = true;
            for item in items {
                if !(first && inline) {
                    out.push_str(&" ".repeat(indent));
                }
                first = false;
                out.push_str("- ");
                match item {
                    Value::Object(m) if !m.is_empty() => write_value(out, item, indent + 2, true),
                    _ if is_block_string(item) => write_block_string(out, item.as_str().unwrap_or(""), indent + 2),
                    _ => {
                        out.push_str(&scalar_or_empty(item));
                        out.push('\n');
                    }
                }
            }
        }
        other => {
            out.push_str(&scalar_or_empty(other));
            out.push('\n');
        }
    }
}

fn scalar_or_empty(value: &Value) -> String {
    match value {
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
        other => scalar(other),
    }
}

fn write_child(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_value(out, value, indent, false);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_value(out, value, indent, false);
        }
        _ if is_block_string(value) => {
            out.push(' ');
            write_block_string(out, value.as_str().unwrap_or(""), indent);
        }
        _ => {
            out.push(' ');
            out.push_str(&scalar_or_empty(value));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_block_yaml() {
        let value = json!({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "a\n/\nb", "labels": {"slo": "x"}}]}], "empty": []});
        assert_eq!(
            to_yaml(&value),
            "groups:\n  - name: \"g\"\n    rules:\n      - record: \"r\"\n        expr: |-\n          a\n          /\n          b\n        labels:\n          slo: \"x\"\nempty: []\n"
        );
    }
}
