//! A check written as a CEL expression (the Common Expression Language, as
//! blackbox_exporter's JSON checks use): `body.completion_tokens <= 64`,
//! `body.model == model`, `body.results.all(r, r.score >= 0.0 && r.score <= 1.0)`.
//!
//! An expression reads `body` (the answer as JSON, `null` when it is not),
//! `text` (the body as text), `status`, `headers` (lower-case names), the
//! config's `vars` and the journey's variables by name. It is parsed when the
//! config is checked, every name it reads resolved then; a name it does not
//! know, a regex that does not compile, or a syntax error is a config problem
//! at its path. It passes when it yields `true`; anything else (`false`, an
//! error such as a missing field, another type) fails it. Besides CEL's
//! standard functions, `isSorted(list)` says whether a list is in ascending
//! order, and `type(x) == string` (and the other type names) tells JSON types apart.

use super::ResponseView;
use cel_interpreter::objects::Key;
use cel_interpreter::{Context, Program, Value as Cel};
use cel_parser::ast::IdedExpr;
use cel_parser::ast::{EntryExpr, Expr};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

/// The names every expression can read, besides vars and journey variables.
pub const BUILTINS: [&str; 4] = ["body", "text", "status", "headers"];

/// What an expression reads by name.
#[derive(Debug, Clone)]
enum Binding {
    Body,
    Text,
    Status,
    Headers,
    /// A config var: fixed.
    Fixed(Cel),
    /// A journey variable's slot.
    Slot(usize),
}

#[derive(Debug, Clone)]
pub struct ExprCheck {
    source: String,
    program: Arc<Program>,
    bindings: Vec<(String, Binding)>,
}

/// Where a name an expression reads can come from.
pub struct Names<'a> {
    pub vars: &'a crate::template::Vars,
    /// The journey variables available to this step: name and slot.
    pub variables: Vec<(String, usize)>,
}

/// The functions of every expression, made once: CEL's standard ones, and
/// `matches` with its compiled regexes kept per thread.
pub(super) static FUNCTIONS: LazyLock<Context<'static>> = LazyLock::new(|| {
    let mut context = Context::default();
    context.add_function("matches", matches);
    context.add_function("isSorted", is_sorted);
    // CEL's `type(x) == string`: cel-interpreter 0.10 has no types as values, so a type is its name.
    context.add_function("type", cel_type);
    for name in TYPE_NAMES {
        context.add_variable_from_value(name, name);
    }
    context
});

/// CEL's type names, as `type()` gives them.
const TYPE_NAMES: [&str; 9] = ["int", "uint", "double", "string", "bool", "bytes", "list", "map", "null_type"];

fn cel_type(
    cel_interpreter::extractors::This(value): cel_interpreter::extractors::This<Cel>,
) -> Result<Cel, cel_interpreter::ExecutionError> {
    Ok(Cel::String(Arc::new(type_name(&value).to_string())))
}

fn type_name(value: &Cel) -> &'static str {
    match value {
        Cel::Int(_) => "int",
        Cel::UInt(_) => "uint",
        Cel::Float(_) => "double",
        Cel::String(_) => "string",
        Cel::Bool(_) => "bool",
        Cel::Bytes(_) => "bytes",
        Cel::List(_) => "list",
        Cel::Map(_) => "map",
        Cel::Null => "null_type",
        Cel::Function(..) => "function",
    }
}

/// `isSorted(list)`: each element at least the one before it (numbers or strings);
/// `isSorted(list.map(x, -x))` for descending order.
fn is_sorted(list: Arc<Vec<Cel>>) -> bool {
    list.windows(2).all(|pair| match (&pair[0], &pair[1]) {
        (Cel::String(a), Cel::String(b)) => a <= b,
        (a, b) => match (number(a), number(b)) {
            (Some(a), Some(b)) => a <= b,
            _ => false,
        },
    })
}

fn number(value: &Cel) -> Option<f64> {
    match value {
        Cel::Int(i) => Some(*i as f64),
        Cel::UInt(u) => Some(*u as f64),
        Cel::Float(f) => Some(*f),
        _ => None,
    }
}

/// Compiled regexes kept per thread, at most.
const MAX_CACHED_PATTERNS: usize = 256;

fn matches(
    ftx: &cel_interpreter::FunctionContext,
    cel_interpreter::extractors::This(this): cel_interpreter::extractors::This<Arc<String>>,
    pattern: Arc<String>,
) -> Result<bool, cel_interpreter::ExecutionError> {
    thread_local! {
        static COMPILED: std::cell::RefCell<HashMap<Arc<String>, regex::Regex>> = Default::default();
    }
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        if !compiled.contains_key(&pattern) {
            // Patterns are mostly literals; one built from answers could be new every time.
            if compiled.len() >= MAX_CACHED_PATTERNS {
                compiled.clear();
            }
            let regex = regex::Regex::new(&pattern).map_err(|e| ftx.error(super::regex_error(&pattern, &e)))?;
            compiled.insert(pattern.clone(), regex);
        }
        Ok(compiled[&pattern].is_match(&this))
    })
}

impl ExprCheck {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Parses `source` and resolves every name it reads.
    pub fn compile(source: &str, names: &Names<'_>) -> Result<ExprCheck, String> {
        let parsed = parse(source)?;
        let mut free = BTreeSet::new();
        let mut patterns = Vec::new();
        walk(&parsed, &mut Vec::new(), &mut free, &mut patterns);
        for pattern in patterns {
            regex::Regex::new(&pattern).map_err(|e| super::regex_error(&pattern, &e))?;
        }
        let mut bindings = Vec::new();
        for name in free.into_iter().filter(|n| !TYPE_NAMES.contains(&n.as_str())) {
            let binding = match name.as_str() {
                "body" => Binding::Body,
                "text" => Binding::Text,
                "status" => Binding::Status,
                "headers" => Binding::Headers,
                _ => match (names.variables.iter().find(|(n, _)| *n == name), names.vars.get(&name)) {
                    (Some((_, slot)), _) => Binding::Slot(*slot),
                    (None, Some(value)) => Binding::Fixed(cel_value(value)),
                    (None, None) => {
                        let mut known: Vec<&str> = BUILTINS.to_vec();
                        known.extend(names.vars.keys().map(String::as_str));
                        known.extend(names.variables.iter().map(|(n, _)| n.as_str()));
                        return Err(format!("\"{name}\" is not known here; an expression reads {}", known.join(", ")));
                    }
                },
            };
            bindings.push((name, binding));
        }
        let program = Program::compile(source).map_err(|e| format!("not a CEL expression: {e}"))?;
        Ok(ExprCheck { source: source.to_string(), program: Arc::new(program), bindings })
    }

    pub fn describe(&self) -> String {
        self.source.clone()
    }

    /// Whether it reads the answer's body (`body` or `text`).
    pub fn reads_body(&self) -> bool {
        self.bindings.iter().any(|(_, b)| matches!(b, Binding::Body | Binding::Text))
    }

    /// Whether it reads the answer's headers.
    pub fn reads_headers(&self) -> bool {
        self.bindings.iter().any(|(_, b)| matches!(b, Binding::Headers))
    }

    /// Whether the expression yields `true` on `response`, with the journey's `variables`.
    pub fn passes(&self, response: &mut ResponseView<'_>, variables: &[Option<serde_json::Value>]) -> bool {
        // One context per response, shared by its expression checks: each adds what it reads and is not there yet.
        let mut context = response.cel_context.take().unwrap_or_else(|| FUNCTIONS.new_inner_scope());
        for (name, binding) in &self.bindings {
            if let Context::Child { variables: set, .. } = &context {
                if set.contains_key(name) {
                    continue;
                }
            }
            let value = match binding {
                Binding::Body => response.cel_body(),
                Binding::Text => Cel::String(Arc::new(String::from_utf8_lossy(response.body).into_owned())),
                Binding::Status => Cel::Int(i64::from(response.status)),
                Binding::Headers => headers(response.headers),
                Binding::Fixed(value) => value.clone(),
                Binding::Slot(slot) => variables.get(*slot).and_then(Option::as_ref).map_or(Cel::Null, cel_value),
            };
            context.add_variable_from_value(name.clone(), value);
        }
        let passed = matches!(self.program.execute(&context), Ok(Cel::Bool(true)));
        response.cel_context = Some(context);
        passed
    }
}

thread_local! {
    /// Set while this thread parses: the parser's panics are its errors, not bugs to print.
    static PARSING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Parses `source`. cel-parser 0.10 panics on some incomplete expressions
/// (`body.x ==`) instead of returning an error; that panic is caught and
/// reported as the syntax error it is, and kept off stderr.
fn parse(source: &str) -> Result<IdedExpr, String> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !PARSING.with(|p| p.get()) {
                previous(info)
            }
        }));
    });
    PARSING.with(|p| p.set(true));
    let parsed = std::panic::catch_unwind(|| cel_parser::Parser::default().parse(source));
    PARSING.with(|p| p.set(false));
    match parsed {
        Ok(Ok(expression)) => Ok(expression),
        Ok(Err(errors)) => {
            let text = errors.to_string();
            Err(format!("not a CEL expression: {}", text.lines().next().unwrap_or_default().trim()))
        }
        Err(_) => Err("not a CEL expression: it ends too early or is incomplete".to_string()),
    }
}

fn headers(map: &reqwest::header::HeaderMap) -> Cel {
    let mut headers: HashMap<Key, Cel> = HashMap::new();
    for (name, value) in map {
        let key = Key::String(Arc::new(name.as_str().to_string()));
        headers.entry(key).or_insert_with(|| Cel::String(Arc::new(String::from_utf8_lossy(value.as_bytes()).into())));
    }
    headers.into()
}

/// A JSON value as CEL sees it: whole numbers are `int`, others `double`.
pub fn cel_value(json: &serde_json::Value) -> Cel {
    use serde_json::Value as Json;
    match json {
        Json::Null => Cel::Null,
        Json::Bool(b) => Cel::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Cel::Int)
            .or_else(|| n.as_u64().map(Cel::UInt))
            .unwrap_or_else(|| Cel::Float(n.as_f64().unwrap_or(f64::NAN))),
        Json::String(s) => Cel::String(Arc::new(s.clone())),
        Json::Array(items) => Cel::List(Arc::new(items.iter().map(cel_value).collect())),
        Json::Object(fields) => fields
            .iter()
            .map(|(k, v)| (Key::String(Arc::new(k.clone())), cel_value(v)))
            .collect::<HashMap<Key, Cel>>()
            .into(),
    }
}

/// Collects the names `expr` reads that no comprehension binds, and the
/// literal patterns given to `matches`.
fn walk(expr: &IdedExpr, bound: &mut Vec<String>, free: &mut BTreeSet<String>, patterns: &mut Vec<String>) {
    match &expr.expr {
        Expr::Ident(name) => {
            if !bound.iter().any(|b| b == name) {
                free.insert(name.clone());
            }
        }
        Expr::Call(call) => {
            if call.func_name == "matches" {
                if let Some(IdedExpr { expr: Expr::Literal(cel_parser::reference::Val::String(p)), .. }) =
                    call.args.last()
                {
                    patterns.push(p.clone());
                }
            }
            for e in call.target.iter().map(|t| t.as_ref()).chain(&call.args) {
                walk(e, bound, free, patterns);
            }
        }
        Expr::Select(select) => walk(&select.operand, bound, free, patterns),
        Expr::List(list) => list.elements.iter().for_each(|e| walk(e, bound, free, patterns)),
        Expr::Map(map) => entries(&map.entries, bound, free, patterns),
        Expr::Struct(s) => entries(&s.entries, bound, free, patterns),
        Expr::Comprehension(c) => {
            walk(&c.iter_range, bound, free, patterns);
            walk(&c.accu_init, bound, free, patterns);
            let before = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.clone());
            bound.push(c.accu_var.clone());
            for e in [&c.loop_cond, &c.loop_step, &c.result] {
                walk(e, bound, free, patterns);
            }
            bound.truncate(before);
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn entries(
    entries: &[cel_parser::ast::IdedEntryExpr],
    bound: &mut Vec<String>,
    free: &mut BTreeSet<String>,
    patterns: &mut Vec<String>,
) {
    for entry in entries {
        match &entry.expr {
            EntryExpr::StructField(f) => walk(&f.value, bound, free, patterns),
            EntryExpr::MapEntry(m) => {
                walk(&m.key, bound, free, patterns);
                walk(&m.value, bound, free, patterns);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const BODY: &str = r#"{"model": "gpt-4", "completion_tokens": 42, "text": "Photosynthesis is",
        "embedding": [0.1, 0.2, 0.3], "suggestions": ["photo", "photon"], "scores": [0.9, 0.5, 0.1], "error": null}"#;

    /// Whether `source` passes on [`BODY`] with the vars `dims` = "3" (text) and
    /// `max_tokens` = 64 (a number), and the journey variable `model` = "gpt-4".
    fn passes(source: &str) -> bool {
        let vars = crate::template::Vars::from([
            ("dims".to_string(), serde_json::Value::from("3")),
            ("max_tokens".to_string(), serde_json::Value::from(64)),
        ]);
        let check = ExprCheck::compile(source, &Names { vars: &vars, variables: vec![("model".into(), 0)] })
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        let headers = reqwest::header::HeaderMap::from_iter([(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        )]);
        let mut view = ResponseView::new(200, &headers, BODY.as_bytes());
        check.passes(&mut view, &[Some(serde_json::json!("gpt-4"))])
    }

    fn refused(source: &str) -> String {
        let vars = BTreeMap::new();
        ExprCheck::compile(source, &Names { vars: &vars, variables: Vec::new() }).unwrap_err()
    }

    #[test]
    fn expressions_compare_numbers_strings_lists_and_runtime_values() {
        for (source, expected) in [
            ("body.completion_tokens <= 64", true),
            ("body.completion_tokens > 64", false),
            ("body.model == model", true),
            ("body.model != model", false),
            ("size(body.embedding) == int(dims)", true),
            ("body.completion_tokens <= max_tokens", true),
            ("body.completion_tokens > max_tokens", false),
            ("body.scores.all(s, s >= 0.0 && s <= 1.0)", true),
            ("body.suggestions.all(s, s.startsWith('photo'))", true),
            ("body.suggestions.exists(s, s == 'photon')", true),
            ("body.text.contains('synth') && body.text.matches('^Photo[a-z]+ is$')", true),
            ("!body.text.matches('error')", true),
            ("isSorted(body.scores.map(s, -s))", true),
            ("isSorted(body.scores)", false),
            ("has(body.error) && body.error == null", true),
            ("has(body.missing)", false),
            ("body.missing == 1", false),
            ("status == 200 && headers['content-type'].startsWith('application/json')", true),
            ("text.startsWith('{')", true),
            ("body.completion_tokens", false),
            ("type(body.model) == string && type(body.completion_tokens) == int", true),
            ("type(body.embedding) == list && type(body.scores[0]) == double", true),
            ("body.scores.exists_one(s, s > 0.8)", true),
            ("body.scores.filter(s, s < 0.6).size() == 2", true),
        ] {
            assert_eq!(passes(source), expected, "{source}");
        }
    }

    #[test]
    fn mistakes_are_refused_when_compiled() {
        assert_eq!(
            refused("body.model == modle"),
            "\"modle\" is not known here; an expression reads body, text, status, headers"
        );
        assert!(refused("body.x ==").starts_with("not a CEL expression:"), "{}", refused("body.x =="));
        assert_eq!(refused("text.matches('([a-z')"), "invalid regular expression \"([a-z\": unclosed character class");
    }
}
