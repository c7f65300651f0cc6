//! The live status page the daemon (and `run --listen`) serves at `/`: every
//! SLO's verdict, SLI and burn rate over the live window, each request's
//! rates and latency percentiles with charts of the recent evaluations, and
//! each request's last failures with what the answer showed (redacted), as
//! blackbox_exporter's probe debug view. The page and its chart library are
//! compiled into the binary; it reads `/status.json` and refreshes itself.

pub mod board;
pub mod failures;

pub use board::{Mode, StatusBoard};
pub use failures::RecentFailures;

const PAGE_JS: &str = include_str!("page.js");
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:20px;color:#222}\
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}.pass{color:#1a7f37}.fail{color:#cf222e}.nodata{color:#777}#error{color:#cf222e}\
pre{margin:0;max-width:70ch;white-space:pre-wrap;word-break:break-all;font-size:12px}.chart{margin:12px 0}\
details{margin:8px 0}summary{cursor:pointer;font-weight:600}";

/// What the page's `Content-Security-Policy` allows: its own inline script
/// and style, and reading `status.json` from where it came. Nothing else loads.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

/// The page, the same for every load: the figures come from `status.json`.
pub fn page() -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>sloprober status</title><style>{uplot_css}{STYLE}</style></head><body>\n\
         <h1>sloprober <span id=\"verdict\">loading</span></h1><p id=\"facts\"></p><p id=\"error\"></p>\n\
         <h2>SLOs</h2><div id=\"slos\"></div>\n<h2>Last failures</h2><div id=\"failures\"></div>\n\
         <h2>Requests</h2><div id=\"requests\"></div>\n<h2>Recent evaluations</h2><div id=\"charts\"></div>\n\
         <footer><small>sloprober {version} · <a href=\"metrics\">/metrics</a> · <a href=\"status.json\">status.json</a> · \
         charts: uPlot 1.6.32 (MIT), embedded</small></footer>\n\
         <script>{uplot_js}</script>\n<script>{PAGE_JS}</script></body></html>\n",
        uplot_css = crate::report::html::UPLOT_CSS,
        uplot_js = crate::report::html::UPLOT_JS,
        version = env!("CARGO_PKG_VERSION"),
    )
}
