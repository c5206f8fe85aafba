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

    fn auth(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Response> {
        let req = self.auth(self.client.get(self.url(path)).query(query));
        check(
            req.send()
                .with_context(|| format!("GET {}", self.url(path)))?,
        )
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<Response> {
        let req = self.auth(self.client.post(self.url(path)).json(body));
        check(
            req.send()
                .with_context(|| format!("POST {}", self.url(path)))?,
        )
    }

    pub fn delete(&self, path: &str) -> anyhow::Result<Response> {
        let req = self.auth(self.client.delete(self.url(path)));
        check(
            req.send()
                .with_context(|| format!("DELETE {}", self.url(path)))?,
        )
    }
}

/// Turns a non-2xx answer into an error naming the server's reason.
fn check(resp: Response) -> anyhow::Result<Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let url = resp.url().to_string();
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
    bail!("{url}: HTTP {status}: {detail}")
}
