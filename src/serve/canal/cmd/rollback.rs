//! CLIENTROLLBACK: hand outstanding batches out again. Batch id 0 rolls
//! back every outstanding batch (the next get reads from the committed
//! offset); another id rolls back that batch and every later one. No reply
//! (as in Canal). A rollback for something not subscribed is silently
//! ignored: Canal clients send one right after connecting, before they
//! subscribe. An unknown batch id gets an error ACK as the reply to the next request.

use tracing::debug;

use crate::proto::canal as c;
use crate::serve::canal::packet::ERR_GENERAL;
use crate::serve::canal::session::{CmdError, Session};

pub fn apply(rb: c::ClientRollback, session: &mut Session) -> Result<(), CmdError> {
    let key = (rb.destination.clone(), rb.client_id.clone());
    let Some(sub) = session.subs.get_mut(&key) else {
        debug!(peer = %session.peer, destination = %rb.destination, client_id = %rb.client_id, "rollback before subscribe ignored");
        return Ok(());
    };
    if rb.batch_id == 0 {
        sub.batches.clear();
        sub.read_cursor = sub.committed;
        return Ok(());
    }
    let Some(pos) = sub.batches.iter().position(|b| b.id == rb.batch_id) else {
        return Err(CmdError::new(
            ERR_GENERAL,
            format!(
                "rollback error, clientId:{} batchId:{} does not exist",
                rb.client_id, rb.batch_id
            ),
        ));
    };
    if let Some(b) = sub.batches.get(pos) {
        sub.read_cursor = b.start;
    }
    sub.batches.truncate(pos);
    Ok(())
}
