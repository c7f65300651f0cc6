//! The crate's shape: `src/lib.rs` declares its modules bottom layer first,
//! and a module may use only modules declared above it. This test reads
//! every source file and fails on an import that reaches up (or sideways
//! into a cycle), naming the file and the import. Test code (`#[cfg(test)]`
//! items, and files declared under them) may use any module as a fixture.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One import that breaks the order: `file` (in module `from`) uses `to`.
#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    from: String,
    to: String,
}

/// The modules `lib.rs` declares, in order.
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod "))?;
            rest.strip_suffix(';').map(str::to_string)
        })
        .collect()
}

/// The text with comments, string and char literals blanked, so that only code remains.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            i += end;
        } else if let Some(hashes) = raw_string_start(rest) {
            let closing = format!("\"{}", "#".repeat(hashes));
            let open = 2 + hashes;
            let end = rest[open..].find(&closing).map_or(rest.len(), |e| open + e + closing.len());
            out.push_str("\"\"");
            i += end;
        } else if rest.starts_with('"') || rest.starts_with("b\"") {
            let mut j = if rest.starts_with('"') { 1 } else { 2 };
            while j < rest.len() && rest.as_bytes()[j] != b'"' {
                j += if rest.as_bytes()[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += (j + 1).min(rest.len());
        } else if let Some(len) = char_literal(rest) {
            out.push_str("' '");
            i += len;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `r"`, `r#"`, `br##"`...: how many `#` the raw string has.
fn raw_string_start(text: &str) -> Option<usize> {
    let after_r = text.strip_prefix("br").or_else(|| text.strip_prefix('r'))?;
    let hashes = after_r.len() - after_r.trim_start_matches('#').len();
    after_r[hashes..].starts_with('"').then_some(hashes)
}

/// The length of a char literal at the start (`'{'`, `'\''`, `b'\n'`); None for a lifetime.
fn char_literal(text: &str) -> Option<usize> {
    let start = if text.starts_with("b'") { 1 } else { 0 };
    let body = text[start..].strip_prefix('\'')?;
    let len = if let Some(escaped) = body.strip_prefix('\\') {
        // The escaped character, then up to the closing quote (`\u{1F600}`).
        escaped.get(1..)?.find('\'').map(|e| e + 2)?
    } else {
        let c = body.chars().next()?;
        if !body[c.len_utf8()..].starts_with('\'') {
            return None;
        }
        c.len_utf8()
    };
    Some(start + 1 + len + 1)
}

/// The code with every `#[cfg(test)]` item removed, and the names of the
/// modules declared as `#[cfg(test)] mod name;` (test code in their own files).
fn without_tests(code: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut test_files = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at + "#[cfg(test)]".len()..];
        let semicolon = item.find(';');
        let brace = item.find('{');
        let end = match (semicolon, brace) {
            (Some(s), b) if b.is_none_or(|b| s < b) => {
                let declared = item[..s].trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ");
                if let Some(name) = declared.strip_prefix("mod ") {
                    test_files.push(name.trim().to_string());
                }
                s + 1
            }
            (_, Some(b)) => {
                let mut depth = 0;
                let mut end = item.len();
                for (i, c) in item[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            _ => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    (out, test_files)
}

/// Every top-level module a piece of code names as `crate::name`, also inside `use crate::{a, b::c}`.
fn crate_references(code: &str, modules: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let word = |text: &str| text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let after = &code[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for part in inner.split(',') {
                found.insert(word(part.trim()));
            }
        } else {
            found.insert(word(after));
        }
    }
    found.retain(|name| modules.contains(name));
    found
}

/// Every violation in a source tree whose `lib.rs` is `lib` and whose files are (path under src, text).
fn violations(lib: &str, files: &[(String, String)]) -> Vec<Violation> {
    let modules = declared_modules(lib);
    let rank = |name: &str| modules.iter().position(|m| m == name);
    let mut test_files: Vec<String> = Vec::new();
    let mut kept: Vec<(String, String)> = Vec::new();
    for (path, text) in files {
        let (code, tests) = without_tests(&code_only(text));
        let dir = match path.strip_suffix("mod.rs").or_else(|| path.strip_suffix("lib.rs")) {
            Some(dir) => dir.to_string(),
            None => format!("{}/", path.trim_end_matches(".rs")),
        };
        test_files.extend(tests.iter().flat_map(|t| [format!("{dir}{t}.rs"), format!("{dir}{t}/")]));
        kept.push((path.clone(), code));
    }
    let mut found = Vec::new();
    for (path, code) in kept {
        if test_files.iter().any(|t| path == *t || (t.ends_with('/') && path.starts_with(t.as_str()))) {
            continue;
        }
        let top = path.split('/').next().unwrap_or_default().trim_end_matches(".rs");
        let Some(own) = rank(top) else { continue };
        for used in crate_references(&code, &modules) {
            if used != top && rank(&used).is_none_or(|r| r >= own) {
                found.push(Violation { file: path.clone(), from: top.to_string(), to: used });
            }
        }
    }
    found
}

fn source_files(root: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn every_module_imports_only_modules_declared_above_it_in_lib_rs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules = declared_modules(&lib);
    assert!(modules.len() > 20 && modules[..2] == ["sys", "model"], "lib.rs lists the layers: {modules:?}");
    let found = violations(&lib, &source_files(&src));
    let lines: Vec<String> =
        found.iter().map(|v| format!("{}: {} uses {}, declared below it in lib.rs", v.file, v.from, v.to)).collect();
    assert!(lines.is_empty(), "imports that reach up a layer:\n{}", lines.join("\n"));
}

#[test]
fn the_model_layer_imports_nothing_of_the_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = declared_modules(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    for (path, text) in source_files(&src.join("model")) {
        let (code, _) = without_tests(&code_only(&text));
        let used = crate_references(&code, &modules);
        assert!(used.is_empty(), "model/{path} uses {used:?}");
    }
}

#[test]
fn the_check_finds_an_import_that_reaches_up_and_ignores_test_code() {
    let lib = "mod model;\nmod plan;\nmod run;\n";
    let file = |path: &str, text: &str| (path.to_string(), text.to_string());
    let files = [
        file("model/mod.rs", "// crate::run in a comment\nconst A: &str = \"crate::run\";\n#[cfg(test)]\nmod tests;"),
        file("model/tests.rs", "use crate::run::x;"),
        file(
            "plan/mod.rs",
            "use crate::model::x;\nfn f() -> [char; 3] { ['{', '\\'', '\\n'] }\nuse crate::{model::y, run::z};",
        ),
        file("plan/build.rs", "#[cfg(test)]\nmod tests {\n    use crate::run::x;\n    fn f() { let s = \"}\"; }\n}\n"),
        file("run/mod.rs", "use crate::plan::x;\nuse crate::model;"),
    ];
    assert_eq!(
        violations(lib, &files),
        [Violation { file: "plan/mod.rs".into(), from: "plan".into(), to: "run".into() }]
    );
    let cycle = [file("model/mod.rs", "fn f() { crate::plan::g() }"), file("plan/mod.rs", "use crate::model::x;")];
    assert_eq!(violations(lib, &cycle).len(), 1, "a cycle always has an import that reaches up");
}
