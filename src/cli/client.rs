//! A small blocking client of sluice's HTTP API, for the networked forms
//! of `sluice tail` and `sluice groups`. Errors carry the server's
//! `{error, detail}` body.

use anyhow::{bail, Context};
use reqwest::blocking::{Client, RequestBuilder, Response};
use std::time::Duration;

/// A server address and its token.
pub struct Api {
    base: String,
    token: Option<String>,
    client: Client,
}

impl Api {
    pub fn new(server: &str, token: Option<String>) -> anyhow::Result<Api> {
        let base = server.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            bail!("--server {server:?}: expected http://HOST:PORT");
        }
        let client = Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Api {
            base,
            token,
            client,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request that got no answer, as one line: which server, and the
    /// innermost cause (reqwest's chain repeats the URL at each level).
    fn send_error(&self, method: &str, path: &str, e: reqwest::Error) -> anyhow::Error {
        let mut root: &dyn std::error::Error = &e;
        while let Some(next) = root.source() {
            root = next;
        }
        if e.is_connect() {
            anyhow::anyhow!(
                "cannot connect to the sluice server at {}: {root} (is `sluice run --http-addr` \
                 listening there?)",
                self.base
            )
        } else if e.is_timeout() {
            anyhow::anyhow!("{method} {}: no answer in time", self.url(path))
        } else {
            anyhow::anyhow!("{method} {}: {root}", self.url(path))
        }
    }

    fn auth(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Response> {
        let req = self.auth(self.client.get(self.url(path)).query(query));
        check(req.send().map_err(|e| self.send_error("GET", path, e))?)
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<Response> {
        let req = self.auth(self.client.post(self.url(path)).json(body));
        check(req.send().map_err(|e| self.send_error("POST", path, e))?)
    }

    pub fn delete(&self, path: &str) -> anyhow::Result<Response> {
        let req = self.auth(self.client.delete(self.url(path)));
        check(req.send().map_err(|e| self.send_error("DELETE", path, e))?)
    }
}

/// Turns a non-2xx answer into an error naming the server's reason.
fn check(resp: Response) -> anyhow::Result<Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    // Without the query: the flags the user gave say it better.
    let mut url = resp.url().clone();
    url.set_query(None);
    let text = resp.text().unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            Some(format!(
                "{}: {}",
                v.get("error")?.as_str()?,
                v.get("detail")?.as_str()?
            ))
        })
        .unwrap_or(text);
    let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
        " (give the server's --http-token with --token or SLUICE_HTTP_TOKEN)"
    } else {
        ""
    };
    bail!("{url}: HTTP {status}: {detail}{hint}")
}
