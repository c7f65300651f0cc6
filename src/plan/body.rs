//! Request bodies besides `json` and `body`: form fields, multipart fields
//! with files, and a body read from a file. Files are read once, when the
//! plan is built, and are at most [`MAX_FILE`] long.

use super::request::RequestBody;
use crate::config::MultipartField;
use crate::model::env::EnvVars;
use crate::model::problems::Problems;
use crate::template::{RenderContext, Template, Variables};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::Path;

/// The longest file a request may send.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;

/// A file a multipart body sends.
#[derive(Debug, Clone)]
pub struct FilePart {
    pub filename: String,
    pub content_type: String,
    pub bytes: Bytes,
}

/// One field of a multipart body.
#[derive(Debug, Clone)]
pub enum Part {
    Text(Template),
    File(FilePart),
}

/// A `multipart/form-data` body: its boundary and its fields, in order.
#[derive(Debug, Clone)]
pub struct Multipart {
    pub boundary: String,
    pub parts: Vec<(String, Part)>,
}

impl Multipart {
    /// `multipart/form-data; boundary=...`
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    pub fn render(&self, cx: &mut RenderContext<'_>) -> Bytes {
        let mut out = Vec::new();
        for (name, part) in &self.parts {
            out.extend_from_slice(format!("--{}\r\n", self.boundary).as_bytes());
            match part {
                Part::Text(template) => {
                    out.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{}\"\r\n\r\n", quoted(name)).as_bytes(),
                    );
                    out.extend_from_slice(template.render(cx).as_bytes());
                }
                Part::File(file) => {
                    out.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                            quoted(name),
                            quoted(&file.filename),
                            file.content_type
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(&file.bytes);
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        out.into()
    }

    fn variables(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().flat_map(|(_, part)| match part {
            Part::Text(template) => template.variables().collect::<Vec<_>>(),
            Part::File(_) => Vec::new(),
        })
    }
}

/// A name or filename inside a quoted header parameter (RFC 7578 escapes `"` and line breaks).
fn quoted(text: &str) -> String {
    text.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}

/// Form fields rendered and encoded as `application/x-www-form-urlencoded`.
pub fn render_form(fields: &[(String, Template)], cx: &mut RenderContext<'_>) -> Bytes {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, template) in fields {
        form.append_pair(name, &template.render(cx));
    }
    form.finish().into()
}

/// The variable slots a body's templates read.
pub fn variables(body: &RequestBody) -> Vec<usize> {
    match body {
        RequestBody::Json(t) => t.variables(),
        RequestBody::Text(t) => t.variables().collect(),
        RequestBody::Form(fields) => fields.iter().flat_map(|(_, t)| t.variables()).collect(),
        RequestBody::Multipart(multipart) => multipart.variables().collect(),
        RequestBody::None | RequestBody::Static(_) => Vec::new(),
    }
}

/// Reads `file` (relative to `dir`, the config file's), bounded by [`MAX_FILE`].
pub fn read_file(file: &str, dir: &Path, at: &str, problems: &mut Problems) -> Option<Bytes> {
    let path = dir.join(file);
    let size = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(e) => {
            problems.add(at, format!("cannot read \"{file}\" (found beside the config file): {e}"));
            return None;
        }
    };
    if size > MAX_FILE {
        problems.add(at, format!("\"{file}\" is {size} bytes; a file a request sends is at most 64 MiB"));
        return None;
    }
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes.into()),
        Err(e) => {
            problems.add(at, format!("cannot read \"{file}\" (found beside the config file): {e}"));
            None
        }
    }
}

/// What templates in a form or multipart body may read.
pub struct Scope<'a> {
    pub vars: &'a crate::template::Vars,
    pub variables: &'a Variables,
    pub env: &'a EnvVars,
    pub files: &'a Path,
}

/// `form:` compiled at `at`.
pub fn form(fields: &BTreeMap<String, String>, scope: &Scope<'_>, at: &str, problems: &mut Problems) -> RequestBody {
    let mut compiled = Vec::new();
    for (name, value) in fields {
        match Template::compile(value, scope.vars, scope.variables, scope.env) {
            Ok(template) => compiled.push((name.clone(), template)),
            Err(e) => problems.add(format!("{at}.{name}"), e),
        }
    }
    if compiled.iter().all(|(_, t)| t.as_static().is_some()) {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(compiled.iter().map(|(n, t)| (n, t.as_static().unwrap_or_default())))
            .finish();
        return RequestBody::Static(encoded.into());
    }
    RequestBody::Form(compiled)
}

/// `multipart:` compiled at `at`, its files read.
pub fn multipart(
    fields: &BTreeMap<String, MultipartField>,
    scope: &Scope<'_>,
    at: &str,
    problems: &mut Problems,
) -> Multipart {
    let mut parts = Vec::new();
    for (name, field) in fields {
        let field_at = format!("{at}.{name}");
        match field {
            MultipartField::Text(value) => match Template::compile(value, scope.vars, scope.variables, scope.env) {
                Ok(template) => parts.push((name.clone(), Part::Text(template))),
                Err(e) => problems.add(field_at, e),
            },
            MultipartField::Inline { content, filename, content_type } => {
                let content_type = content_type.clone().unwrap_or_else(|| "text/plain".into());
                let bytes = Bytes::from(content.clone().into_bytes());
                parts.push((name.clone(), Part::File(FilePart { filename: filename.clone(), content_type, bytes })));
            }
            MultipartField::File { file, filename, content_type } => {
                if let Some(bytes) = read_file(file, scope.files, &format!("{field_at}.file"), problems) {
                    let filename = filename.clone().unwrap_or_else(|| {
                        Path::new(file).file_name().map_or(file.clone(), |n| n.to_string_lossy().into_owned())
                    });
                    let content_type = content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
                    parts.push((name.clone(), Part::File(FilePart { filename, content_type, bytes })));
                }
            }
        }
    }
    Multipart { boundary: format!("sloprober-{}", uuid::Uuid::new_v4().simple()), parts }
}
