//! `GET /`: the status page, one self-contained HTML file
//! (`status_page.html`, compiled in) that polls `/status` and draws the
//! last hour itself. The page holds no data, so it needs no token; its
//! requests to `/status` carry the token (from `?token=` or its login
//! form). The content security policy keeps it to inline code and this
//! origin: no external assets, so it works offline.

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};

const PAGE: &str = include_str!("status_page.html");

pub async fn page() -> Response {
    let mut resp = Html(PAGE).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; form-action 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
