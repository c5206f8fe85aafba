//! UNSUBSCRIPTION: stop reading; outstanding batches are forgotten (the
//! committed offset stays). Unsubscribing something never subscribed is
//! not an error.

use super::identity;
use crate::proto::canal as c;
use crate::serve::canal::session::{CmdError, Reply, Session};

pub fn apply(unsub: c::Unsub, session: &mut Session) -> Result<Reply, CmdError> {
    let key = identity(&unsub.destination, &unsub.client_id, "unsubscribe")?;
    session.subs.remove(&key);
    Ok(Reply::ok())
}
