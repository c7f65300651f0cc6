//! Request templating: `{{ tenant_id }}`, `{{ uuid }}`, `{{ random_choice('a', 'b') }}`.
//!
//! Templates are compiled once when the plan is built: config `vars` become
//! literals, and only the dynamic parts (uuid, counters, random picks) are
//! filled per request.

use crate::model::env::{interpolate, EnvVars};
use rand::rngs::SmallRng;
use rand::Rng;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-VU values a template may read; the counter is shared by the scenario.
pub struct RenderContext<'a> {
    pub vu: u64,
    pub iteration: u64,
    pub counter: &'a AtomicU64,
    pub rng: &'a mut SmallRng,
    /// This iteration's variables by slot (captured values, loop variables).
    pub variables: &'a [Option<Value>],
}

/// The per-iteration variables of a scenario's journeys, by slot, and which
/// of them a template compiled now may read: a variable is available once a
/// step before it captured it (or inside its loop, for a loop variable).
#[derive(Debug, Clone, Default)]
pub struct Variables {
    names: Vec<String>,
    available: Vec<bool>,
}

impl Variables {
    /// No variables: requests picked by weight, target headers.
    pub fn none() -> &'static Variables {
        static NONE: Variables = Variables { names: Vec::new(), available: Vec::new() };
        &NONE
    }

    /// The slot of `name`, made now if it is new; not yet available.
    pub fn slot(&mut self, name: &str) -> usize {
        if let Some(slot) = self.names.iter().position(|n| n == name) {
            return slot;
        }
        self.names.push(name.to_string());
        self.available.push(false);
        self.names.len() - 1
    }

    pub fn set_available(&mut self, slot: usize, available: bool) {
        self.available[slot] = available;
    }

    pub fn is_available(&self, slot: usize) -> bool {
        self.available[slot]
    }

    /// How many slots an iteration keeps.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn name(&self, slot: usize) -> &str {
        &self.names[slot]
    }

    fn lookup(&self, name: &str) -> Option<(usize, bool)> {
        self.names.iter().position(|n| n == name).map(|slot| (slot, self.available[slot]))
    }
}

const BUILTINS: &str = "uuid, vu, iteration, counter, timestamp, random_int(min, max), random_choice(a, b, ...), \
    random_string(len), urlencode(x), prefix(x, n), lower(x), upper(x)";

/// One dynamic part of a template.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    /// A number or boolean of the config's `vars`.
    Fixed(Value),
    Uuid,
    Vu,
    Iteration,
    Counter,
    TimestampMs,
    RandomInt(i64, i64),
    RandomChoice(Vec<Value>),
    RandomString(usize),
    /// A variable of the iteration (see [`Variables`]).
    Variable(usize),
    /// `urlencode(x)`: as JavaScript's `encodeURIComponent`.
    UrlEncode(Box<Arg>),
    /// `prefix(x, n)`: the first `n` characters.
    Prefix(Box<Arg>, usize),
    Lower(Box<Arg>),
    Upper(Box<Arg>),
}

/// A function's argument: fixed, or rendered each time (a journey variable, a built-in).
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Literal(Value),
    Expr(Expr),
}

impl Arg {
    /// The argument as text: a string as it is, anything else as JSON writes it.
    fn text(&self, ctx: &mut RenderContext<'_>) -> String {
        let value = match self {
            Arg::Literal(value) => value.clone(),
            Arg::Expr(expr) => expr.render(ctx),
        };
        match value {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }
}

/// What `encodeURIComponent` leaves as it is: letters, digits and `-_.!~*'()`.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

impl Expr {
    /// The journey variable it reads, if any (functions take one at most).
    fn variable(&self) -> Option<usize> {
        match self {
            Expr::Variable(slot) => Some(*slot),
            Expr::UrlEncode(arg) | Expr::Prefix(arg, _) | Expr::Lower(arg) | Expr::Upper(arg) => match arg.as_ref() {
                Arg::Expr(expr) => expr.variable(),
                Arg::Literal(_) => None,
            },
            _ => None,
        }
    }

    fn render(&self, ctx: &mut RenderContext<'_>) -> Value {
        match self {
            Expr::Uuid => Value::String(uuid::Builder::from_random_bytes(ctx.rng.random()).into_uuid().to_string()),
            Expr::Vu => Value::from(ctx.vu),
            Expr::Fixed(value) => value.clone(),
            Expr::Iteration => Value::from(ctx.iteration),
            Expr::Counter => Value::from(ctx.counter.fetch_add(1, Ordering::Relaxed)),
            Expr::TimestampMs => Value::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0),
            ),
            Expr::RandomInt(min, max) => Value::from(ctx.rng.random_range(*min..=*max)),
            Expr::RandomChoice(choices) => choices[ctx.rng.random_range(0..choices.len())].clone(),
            Expr::RandomString(len) => {
                Value::String((0..*len).map(|_| ctx.rng.sample(rand::distr::Alphanumeric) as char).collect())
            }
            Expr::Variable(slot) => ctx.variables.get(*slot).cloned().flatten().unwrap_or(Value::Null),
            Expr::UrlEncode(arg) => {
                Value::String(percent_encoding::utf8_percent_encode(&arg.text(ctx), URI_COMPONENT).to_string())
            }
            Expr::Prefix(arg, n) => Value::String(arg.text(ctx).chars().take(*n).collect()),
            Expr::Lower(arg) => Value::String(arg.text(ctx).to_lowercase()),
            Expr::Upper(arg) => Value::String(arg.text(ctx).to_uppercase()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Expr(Expr),
}

/// A template that does not compile, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed \"{{{{\" in \"{0}\"")]
    Unclosed(String),
    #[error("missing \")\" in \"{{{{ {0} }}}}\"")]
    MissingParenthesis(String),
    #[error("random_int needs two integers min <= max, got \"{0}\"")]
    RandomInt(String),
    #[error("random_choice needs at least one choice")]
    RandomChoice,
    #[error("random_string needs a length from 1 to 4096, got \"{0}\"")]
    RandomString(String),
    #[error("unknown template expression \"{expression}\"; known: {known}")]
    Unknown { expression: String, known: String },
    #[error("unclosed quote in \"{0}\"")]
    UnclosedQuote(String),
    #[error("argument \"{0}\" is not a quoted string, a number or a name (only urlencode, prefix, lower and upper take names)")]
    Argument(String),
    #[error("prefix needs a value and a length, as prefix(query, 3); got \"{0}\"")]
    Prefix(String),
    #[error("{0} takes one argument")]
    OneArgument(String),
    #[error("expected \",\" between arguments in \"{0}\"")]
    MissingComma(String),
    /// A `${VAR}` in the text that cannot be resolved (the message names the variable, never a value).
    #[error("{0}")]
    Env(String),
    #[error("\"{{{{ {0} }}}}\" has no value here: no earlier step of the journey captures it, and a loop variable exists only inside its loop")]
    NotYetCaptured(String),
}

/// The config's `vars`: text, numbers and booleans, resolved from the environment.
pub type Vars = BTreeMap<String, Value>;

/// `parts` with each fixed value written into the text around it, unless
/// it is the whole template (which then renders to its JSON type).
fn fold_fixed(parts: Vec<Part>) -> Vec<Part> {
    if matches!(parts.as_slice(), [Part::Expr(Expr::Fixed(_))]) {
        return parts;
    }
    let mut folded: Vec<Part> = Vec::with_capacity(parts.len());
    for part in parts {
        let text = match part {
            Part::Literal(text) => text,
            Part::Expr(Expr::Fixed(value)) => value.to_string(),
            expr => {
                folded.push(expr);
                continue;
            }
        };
        match folded.last_mut() {
            Some(Part::Literal(before)) => before.push_str(&text),
            _ => folded.push(Part::Literal(text)),
        }
    }
    folded
}

/// A compiled string template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Compiles `text`; `vars` are the config's `vars`, already resolved from
    /// the environment. Each `${VAR}` written outside `{{ }}` is resolved from
    /// `env` first; the text is parsed as written, so a variable's value is
    /// never read as a template.
    /// `variables` are the journey's, as available at this step.
    pub fn compile(text: &str, vars: &Vars, variables: &Variables, env: &EnvVars) -> Result<Template, TemplateError> {
        let written = |piece: &str| interpolate(piece, env).map_err(TemplateError::Env);
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            literal.push_str(&written(&rest[..start])?);
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| TemplateError::Unclosed(text.to_string()))?;
            match parse_expr(after[..end].trim(), vars, variables)? {
                Parsed::Literal(value) => literal.push_str(&value),
                Parsed::Expr(expr) => {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Expr(expr));
                }
            }
            rest = &after[end + 2..];
        }
        literal.push_str(&written(rest)?);
        if !literal.is_empty() || parts.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts: fold_fixed(parts) })
    }

    /// The text when the template has no dynamic part.
    pub fn as_static(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// The variable slots the template reads.
    pub fn variables(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(expr) => expr.variable(),
            Part::Literal(_) => None,
        })
    }

    pub fn render(&self, ctx: &mut RenderContext<'_>) -> String {
        if let Some(text) = self.as_static() {
            return text.to_string();
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                // A variable is read in place rather than cloned.
                Part::Expr(Expr::Variable(slot)) => match ctx.variables.get(*slot).and_then(Option::as_ref) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(other) => out.push_str(&other.to_string()),
                    None => {}
                },
                Part::Expr(expr) => match expr.render(ctx) {
                    Value::String(s) => out.push_str(&s),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        out
    }

    /// A template that is exactly one expression renders to that expression's JSON type.
    fn render_value(&self, ctx: &mut RenderContext<'_>) -> Value {
        match self.parts.as_slice() {
            [Part::Expr(expr)] => expr.render(ctx),
            _ => Value::String(self.render(ctx)),
        }
    }
}

enum Parsed {
    Literal(String),
    Expr(Expr),
}

fn parse_expr(inner: &str, vars: &Vars, variables: &Variables) -> Result<Parsed, TemplateError> {
    let (name, args) = match inner.find('(') {
        Some(open) => {
            let close = inner
                .rfind(')')
                .filter(|&c| c > open && inner[c + 1..].trim().is_empty())
                .ok_or_else(|| TemplateError::MissingParenthesis(inner.to_string()))?;
            (inner[..open].trim(), Some(parse_args(&inner[open + 1..close], vars, variables)?))
        }
        None => (inner, None),
    };
    let expr = match (name, args) {
        (name, None) if vars.contains_key(name) => {
            return Ok(match &vars[name] {
                Value::String(text) => Parsed::Literal(text.clone()),
                typed => Parsed::Expr(Expr::Fixed(typed.clone())),
            })
        }
        (name, None) if variables.lookup(name).is_some() => match variables.lookup(name) {
            Some((slot, true)) => Expr::Variable(slot),
            _ => return Err(TemplateError::NotYetCaptured(name.to_string())),
        },
        ("uuid", None) => Expr::Uuid,
        ("vu", None) => Expr::Vu,
        ("iteration", None) => Expr::Iteration,
        ("counter", None) => Expr::Counter,
        ("timestamp", None) => Expr::TimestampMs,
        ("urlencode" | "lower" | "upper", Some(mut args)) if args.len() == 1 => {
            let arg = Box::new(args.remove(0));
            match name {
                "urlencode" => Expr::UrlEncode(arg),
                "lower" => Expr::Lower(arg),
                _ => Expr::Upper(arg),
            }
        }
        ("prefix", Some(mut args)) => match args.as_slice() {
            [_, Arg::Literal(Value::Number(n))] if n.as_u64().is_some() => {
                let n = n.as_u64().unwrap_or(0) as usize;
                Expr::Prefix(Box::new(args.remove(0)), n)
            }
            _ => return Err(TemplateError::Prefix(inner.to_string())),
        },
        ("urlencode" | "lower" | "upper", Some(_)) => return Err(TemplateError::OneArgument(name.to_string())),
        (_, Some(args)) if args.iter().any(|a| matches!(a, Arg::Expr(_))) => {
            return Err(TemplateError::Argument(inner.to_string()))
        }
        ("random_int", Some(args)) => match literals(args).as_slice() {
            [Value::Number(a), Value::Number(b)] => match (a.as_i64(), b.as_i64()) {
                (Some(a), Some(b)) if a <= b => Expr::RandomInt(a, b),
                _ => return Err(TemplateError::RandomInt(inner.to_string())),
            },
            _ => return Err(TemplateError::RandomInt(inner.to_string())),
        },
        ("random_choice", Some(args)) if !args.is_empty() => Expr::RandomChoice(literals(args)),
        ("random_choice", Some(_)) => return Err(TemplateError::RandomChoice),
        ("random_string", Some(args)) => match literals(args).as_slice() {
            [Value::Number(n)] if n.as_u64().is_some_and(|n| (1..=4096).contains(&n)) => {
                Expr::RandomString(n.as_u64().unwrap_or(1) as usize)
            }
            _ => return Err(TemplateError::RandomString(inner.to_string())),
        },
        _ => {
            let mut known: Vec<&str> = vars.keys().map(String::as_str).collect();
            known
                .extend(variables.names.iter().zip(&variables.available).filter(|(_, a)| **a).map(|(n, _)| n.as_str()));
            known.push(BUILTINS);
            return Err(TemplateError::Unknown { expression: inner.to_string(), known: known.join(", ") });
        }
    };
    Ok(Parsed::Expr(expr))
}

/// The values of arguments known to be literals.
fn literals(args: Vec<Arg>) -> Vec<Value> {
    args.into_iter().filter_map(|a| if let Arg::Literal(v) = a { Some(v) } else { None }).collect()
}

/// Arguments separated by commas: quoted strings ('a' or "a"), numbers, and
/// names (a var, a journey variable, a built-in such as `iteration`).
fn parse_args(text: &str, vars: &Vars, variables: &Variables) -> Result<Vec<Arg>, TemplateError> {
    let mut args = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (value, after) = if let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            let body = &rest[1..];
            let end = body.find(quote).ok_or_else(|| TemplateError::UnclosedQuote(text.to_string()))?;
            (Arg::Literal(Value::String(body[..end].to_string())), &body[end + 1..])
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let token = rest[..end].trim();
            let arg = match token.parse::<serde_json::Number>() {
                Ok(number) => Arg::Literal(Value::Number(number)),
                Err(_) if token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !token.is_empty() => {
                    match parse_expr(token, vars, variables)? {
                        Parsed::Literal(text) => Arg::Literal(Value::String(text)),
                        Parsed::Expr(Expr::Fixed(value)) => Arg::Literal(value),
                        Parsed::Expr(expr) => Arg::Expr(expr),
                    }
                }
                Err(_) => return Err(TemplateError::Argument(token.to_string())),
            };
            (arg, &rest[end..])
        };
        args.push(value);
        rest = after.trim_start();
        if let Some(after_comma) = rest.strip_prefix(',') {
            rest = after_comma.trim_start();
        } else if !rest.is_empty() {
            return Err(TemplateError::MissingComma(text.to_string()));
        }
    }
    Ok(args)
}

/// A JSON body whose string values may be templates.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    Literal(Value),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// As [`Template::compile`], for every string in the body.
    pub fn compile(
        value: &Value,
        vars: &Vars,
        variables: &Variables,
        env: &EnvVars,
    ) -> Result<JsonTemplate, TemplateError> {
        Ok(match value {
            Value::String(text) => {
                let template = Template::compile(text, vars, variables, env)?;
                match template.as_static() {
                    Some(text) => JsonTemplate::Literal(Value::String(text.to_string())),
                    None => match template.parts.as_slice() {
                        [Part::Expr(Expr::Fixed(value))] => JsonTemplate::Literal(value.clone()),
                        _ => JsonTemplate::Text(template),
                    },
                }
            }
            Value::Array(items) => JsonTemplate::Array(
                items.iter().map(|v| JsonTemplate::compile(v, vars, variables, env)).collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), JsonTemplate::compile(v, vars, variables, env)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    /// The body when nothing in it is dynamic.
    pub fn as_static(&self) -> Option<Value> {
        match self {
            JsonTemplate::Literal(v) => Some(v.clone()),
            JsonTemplate::Text(_) => None,
            JsonTemplate::Array(items) => {
                items.iter().map(JsonTemplate::as_static).collect::<Option<Vec<_>>>().map(Value::Array)
            }
            JsonTemplate::Object(fields) => fields
                .iter()
                .map(|(k, v)| v.as_static().map(|v| (k.clone(), v)))
                .collect::<Option<serde_json::Map<_, _>>>()
                .map(Value::Object),
        }
    }

    /// The variable slots the body reads.
    pub fn variables(&self) -> Vec<usize> {
        match self {
            JsonTemplate::Literal(_) => Vec::new(),
            JsonTemplate::Text(t) => t.variables().collect(),
            JsonTemplate::Array(items) => items.iter().flat_map(JsonTemplate::variables).collect(),
            JsonTemplate::Object(fields) => fields.iter().flat_map(|(_, v)| v.variables()).collect(),
        }
    }

    pub fn render(&self, ctx: &mut RenderContext<'_>) -> Value {
        match self {
            JsonTemplate::Literal(v) => v.clone(),
            JsonTemplate::Text(t) => t.render_value(ctx),
            JsonTemplate::Array(items) => Value::Array(items.iter().map(|i| i.render(ctx)).collect()),
            JsonTemplate::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.render(ctx))).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn vars() -> Vars {
        Vars::from([("tenant_id".to_string(), Value::from("t-1"))])
    }

    fn render(t: &Template) -> String {
        let counter = AtomicU64::new(7);
        let mut rng = SmallRng::seed_from_u64(1);
        t.render(&mut RenderContext { vu: 3, iteration: 9, counter: &counter, rng: &mut rng, variables: &[] })
    }

    #[test]
    fn vars_become_literals() {
        let t = Template::compile("/tenants/{{ tenant_id }}/x", &vars(), Variables::none(), &EnvVars::new()).unwrap();
        assert_eq!(t.as_static(), Some("/tenants/t-1/x"));
    }

    #[test]
    fn dynamic_parts_render() {
        let t =
            Template::compile("vu{{vu}}-it{{ iteration }}-c{{counter}}", &vars(), Variables::none(), &EnvVars::new())
                .unwrap();
        assert_eq!(render(&t), "vu3-it9-c7");
        let t = Template::compile(
            "{{ random_choice('gpt-3.5-turbo', \"gpt-4\") }}",
            &vars(),
            Variables::none(),
            &EnvVars::new(),
        )
        .unwrap();
        assert!(["gpt-3.5-turbo", "gpt-4"].contains(&render(&t).as_str()));
        let id = render(&Template::compile("{{uuid}}", &vars(), Variables::none(), &EnvVars::new()).unwrap());
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    }

    #[test]
    fn random_string_and_timestamp() {
        let s =
            render(&Template::compile("{{ random_string(12) }}", &vars(), Variables::none(), &EnvVars::new()).unwrap());
        assert!(s.len() == 12 && s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
        let ms: u64 =
            render(&Template::compile("{{ timestamp }}", &vars(), Variables::none(), &EnvVars::new()).unwrap())
                .parse()
                .unwrap();
        assert!(ms > 1_700_000_000_000, "unix milliseconds: {ms}");
    }

    #[test]
    fn whole_value_keeps_its_json_type() {
        let body = serde_json::json!({"n": "{{ random_int(5, 5) }}", "s": "x{{ random_int(5, 5) }}"});
        let t = JsonTemplate::compile(&body, &vars(), Variables::none(), &EnvVars::new()).unwrap();
        let counter = AtomicU64::new(0);
        let mut rng = SmallRng::seed_from_u64(1);
        let out =
            t.render(&mut RenderContext { vu: 1, iteration: 0, counter: &counter, rng: &mut rng, variables: &[] });
        assert_eq!(out, serde_json::json!({"n": 5, "s": "x5"}));
    }

    #[test]
    fn a_typed_var_keeps_its_type_as_a_whole_value_and_is_text_inside_one() {
        let vars = Vars::from([
            ("max_tokens".to_string(), Value::from(64)),
            ("stream".to_string(), Value::from(false)),
            ("ratio".to_string(), Value::from(0.5)),
        ]);
        let body = serde_json::json!({"max_tokens": "{{ max_tokens }}", "stream": "{{ stream }}", "ratio": "{{ ratio }}",
            "text": "up to {{ max_tokens }} tokens"});
        let t = JsonTemplate::compile(&body, &vars, Variables::none(), &EnvVars::new()).unwrap();
        let expected = serde_json::json!({"max_tokens": 64, "stream": false, "ratio": 0.5,
            "text": "up to 64 tokens"});
        assert_eq!(t.as_static(), Some(expected), "fixed values make a fixed body");
        let path =
            Template::compile("/gen?n={{ max_tokens }}&s={{ stream }}", &vars, Variables::none(), &EnvVars::new());
        assert_eq!(path.unwrap().as_static(), Some("/gen?n=64&s=false"));
    }

    #[test]
    fn errors_name_the_expression() {
        let err =
            Template::compile("{{ tenant }}", &vars(), Variables::none(), &EnvVars::new()).unwrap_err().to_string();
        assert!(err.starts_with("unknown template expression \"tenant\"; known: tenant_id, uuid"), "{err}");
        assert!(Template::compile("{{ random_int(5, 1) }}", &vars(), Variables::none(), &EnvVars::new()).is_err());
        assert!(Template::compile("{{ uuid", &vars(), Variables::none(), &EnvVars::new()).is_err());
    }

    #[test]
    fn functions_read_names_and_encode_as_javascript_does() {
        let vars = Vars::from([("query".to_string(), Value::from("photo synthesis & co/2"))]);
        let render = |text: &str| {
            let template = Template::compile(text, &vars, Variables::none(), &EnvVars::new()).unwrap();
            let counter = AtomicU64::new(0);
            let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
            template.render(&mut RenderContext {
                vu: 3,
                iteration: 7,
                counter: &counter,
                rng: &mut rng,
                variables: &[],
            })
        };
        assert_eq!(render("/search?q={{ urlencode(query) }}"), "/search?q=photo%20synthesis%20%26%20co%2F2");
        assert_eq!(render("{{ urlencode(\"a-b_c.d!e~f*g(h)i'j é\") }}"), "a-b_c.d!e~f*g(h)i'j%20%C3%A9");
        assert_eq!(render("{{ prefix(query, 5) }}|{{ prefix('ab', 9) }}"), "photo|ab");
        assert_eq!(render("{{ upper(query) }}"), "PHOTO SYNTHESIS & CO/2");
        assert_eq!(render("{{ lower('ABC') }}-{{ prefix(iteration, 1) }}"), "abc-7");
        let error =
            |text: &str| Template::compile(text, &vars, Variables::none(), &EnvVars::new()).unwrap_err().to_string();
        assert_eq!(
            error("{{ prefix(query) }}"),
            "prefix needs a value and a length, as prefix(query, 3); got \"prefix(query)\""
        );
        assert!(
            error("{{ urlencode(nope) }}").starts_with("unknown template expression \"nope\""),
            "{}",
            error("{{ urlencode(nope) }}")
        );
        assert_eq!(error("{{ upper('a', 'b') }}"), "upper takes one argument");
    }
}
