//! `sluice snapshot`: start, list or cancel on-demand table snapshots on a
//! running server (`/v1/sources/{name}/snapshots`). Prints the server's
//! JSON answer on one line.

use super::client::Api;

#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    /// The server's HTTP API, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub server: String,
    /// Bearer token of the HTTP API.
    #[arg(long, env = "SLUICE_HTTP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The source whose tables to snapshot.
    #[arg(long)]
    pub source: String,
    /// A table to snapshot, `db.table` (repeat for several).
    #[arg(long = "table")]
    pub tables: Vec<String>,
    /// Only the rows meeting this SQL condition.
    #[arg(long = "where")]
    pub condition: Option<String>,
    /// List the snapshots and their progress instead.
    #[arg(long, conflicts_with_all = ["tables", "cancel"])]
    pub list: bool,
    /// Cancel the snapshot with this id instead.
    #[arg(long, conflicts_with = "tables")]
    pub cancel: Option<u64>,
}

pub fn main(args: SnapshotArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.server, args.token.clone())?;
    let path = format!("/v1/sources/{}/snapshots", args.source);
    let answer = if args.list {
        api.get(&path, &[])?
    } else if let Some(id) = args.cancel {
        api.delete(&format!("{path}/{id}"))?
    } else {
        if args.tables.is_empty() {
            anyhow::bail!("give --table db.table (or --list, or --cancel ID)");
        }
        let body = serde_json::json!({
            "tables": args.tables,
            "where": args.condition.clone().unwrap_or_default(),
        });
        api.post(&path, &body)?
    };
    let body: serde_json::Value = answer.json()?;
    println!("{body}");
    Ok(())
}
