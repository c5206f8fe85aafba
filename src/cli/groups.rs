//! `sluice groups list|create|seek|delete`: manage consumer groups on a
//! running server (`--server URL`, through the HTTP API) or directly in a
//! data folder (`--data DIR`, safe while `sluice run` writes the log).
//! Every command prints JSON, one object per line.

use super::client::Api;
use crate::serve::http::changes::parse_reset;
use crate::serve::http::groups::{create_group, seek_group, GroupView};
use crate::serve::http::Seek;
use anyhow::bail;
use serde_json::json;
use sluice_storage::ResetPolicy;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct GroupsArgs {
    /// A running server's HTTP API, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, conflicts_with = "data")]
    pub server: Option<String>,
    /// Bearer token of the server.
    #[arg(long, global = true, env = "SLUICE_HTTP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Data folder given to `sluice run`.
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    /// Source name.
    #[arg(long, global = true, alias = "source", default_value = "main")]
    pub name: String,
    #[command(subcommand)]
    pub command: GroupsCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum GroupsCommand {
    /// List the groups with their offsets and lag.
    List,
    /// Create a group.
    Create {
        group: String,
        /// earliest, latest, OFFSET, time:RFC3339, FILE:POS or gtid:SET.
        #[arg(long)]
        start: Option<String>,
        /// When its offset falls out of retention: none (error), earliest or latest.
        #[arg(long, default_value = "none")]
        reset: String,
        /// Retention keeps what the group has not read (up to retention_max_bytes).
        #[arg(long)]
        protect: bool,
    },
    /// Move a group to earliest, latest, OFFSET, time:RFC3339, FILE:POS or gtid:SET.
    Seek { group: String, to: String },
    /// Delete a group.
    Delete { group: String },
}

pub fn main(args: GroupsArgs) -> anyhow::Result<()> {
    let lines = match (&args.server, &args.data) {
        (Some(server), _) => remote(&Api::new(server, args.token.clone())?, &args)?,
        (None, Some(data)) => local(data, &args)?,
        (None, None) => bail!("give --server URL (a running sluice) or --data DIR"),
    };
    let mut out = std::io::stdout().lock();
    for l in lines {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

fn remote(api: &Api, args: &GroupsArgs) -> anyhow::Result<Vec<serde_json::Value>> {
    let base = format!("/v1/sources/{}/groups", args.name);
    Ok(match &args.command {
        GroupsCommand::List => {
            let v: Vec<serde_json::Value> = api.get(&base, &[])?.json()?;
            v
        }
        GroupsCommand::Create {
            group,
            start,
            reset,
            protect,
        } => {
            let body = json!({"name": group, "start": start, "reset": reset, "protect": protect});
            vec![api.post(&base, &body)?.json()?]
        }
        GroupsCommand::Seek { group, to } => {
            let path = format!("{base}/{group}/seek");
            vec![api.post(&path, &json!({ "to": to }))?.json()?]
        }
        GroupsCommand::Delete { group } => {
            api.delete(&format!("{base}/{group}"))?;
            vec![json!({"deleted": group})]
        }
    })
}

fn local(data: &std::path::Path, args: &GroupsArgs) -> anyhow::Result<Vec<serde_json::Value>> {
    let log = super::open_log(data, &args.name)?;
    let api_err = |e: crate::serve::http::ApiError| anyhow::anyhow!("{}: {}", e.code, e.detail);
    let view = |g| serde_json::to_value(GroupView::with_lag(&log, g)).unwrap_or_default();
    Ok(match &args.command {
        GroupsCommand::List => log.groups().list()?.iter().map(view).collect(),
        GroupsCommand::Create {
            group,
            start,
            reset,
            protect,
        } => {
            let reset: ResetPolicy = parse_reset(reset).map_err(api_err)?;
            let start: Option<Seek> = start.as_deref().map(str::parse).transpose()?;
            let g = create_group(&log, group, start.as_ref(), reset, *protect).map_err(api_err)?;
            vec![view(&g)]
        }
        GroupsCommand::Seek { group, to } => {
            let to: Seek = to.parse()?;
            let g = seek_group(&log, group, &to).map_err(api_err)?;
            vec![view(&g)]
        }
        GroupsCommand::Delete { group } => {
            if !log.groups().delete(group)? {
                bail!("consumer group {group:?} does not exist");
            }
            vec![json!({"deleted": group})]
        }
    })
}
