//! Polls the server's binlog end (`SHOW MASTER STATUS`) every few seconds
//! on its own connection, so `/status` can say how many bytes capture is
//! behind. Runs beside the capture loop and never slows it down: a failed
//! poll is logged at debug level and retried at the next tick.

use super::status::StatusHandle;
use crate::source::{Connection, SourceConfig};
use std::time::Duration;

/// How often the server's binlog end is asked for.
pub const POLL_EVERY: Duration = Duration::from_secs(3);

/// Polls forever (abort the task to stop it).
pub async fn poll(source: SourceConfig, status: StatusHandle, every: Duration) {
    let mut conn: Option<Connection> = None;
    loop {
        if conn.is_none() {
            match crate::source::failover::connect_first(&source).await {
                Ok(c) => conn = Some(c),
                Err(e) => tracing::debug!(error = %e, "server end poll: cannot connect"),
            }
        }
        if let Some(c) = conn.as_mut() {
            match c.master_status().await {
                Ok(end) => status.server_end(&end.file, end.pos),
                Err(e) => {
                    tracing::debug!(error = %e, "server end poll failed");
                    conn = None;
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
