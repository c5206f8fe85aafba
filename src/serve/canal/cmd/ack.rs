//! CLIENTACK: the client processed a batch; commit its end as the group's
//! offset, durably. No reply on success (as in Canal); a wrong batch id
//! gets an error ACK as the reply to the client's next request.
//! Batch id -1 (what an empty get returned) is ignored; 0 is an error (402).

use super::{commit, identity, subscription};
use crate::proto::canal as c;
use crate::serve::canal::packet::{ERR_BATCH_ZERO, ERR_GENERAL};
use crate::serve::canal::session::{CmdError, Session};

pub async fn apply(ack: c::ClientAck, session: &mut Session) -> Result<(), CmdError> {
    let key = identity(&ack.destination, &ack.client_id, "ack")?;
    if ack.batch_id == 0 {
        return Err(CmdError::new(
            ERR_BATCH_ZERO,
            "ack: batchId should be assigned a value",
        ));
    }
    if ack.batch_id == -1 {
        return Ok(());
    }
    let sub = subscription(session, &key)?;
    let Some(first) = sub.batches.front().copied() else {
        return Err(CmdError::new(
            ERR_GENERAL,
            format!(
                "ack error, clientId:{} batchId:{} does not exist (no batch is outstanding)",
                key.1, ack.batch_id
            ),
        ));
    };
    if first.id != ack.batch_id {
        let known = sub.batches.iter().any(|b| b.id == ack.batch_id);
        return Err(CmdError::new(
            ERR_GENERAL,
            if known {
                format!(
                    "ack error, clientId:{} batchId:{} is not the first outstanding batch ({}): acks must come in order",
                    key.1, ack.batch_id, first.id
                )
            } else {
                format!(
                    "ack error, clientId:{} batchId:{} does not exist",
                    key.1, ack.batch_id
                )
            },
        ));
    }
    commit(&sub.destination, &sub.group, first.end).await?;
    sub.committed = first.end;
    sub.batches.pop_front();
    Ok(())
}
