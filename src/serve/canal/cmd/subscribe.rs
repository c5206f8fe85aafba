//! SUBSCRIPTION: start reading a destination as a consumer group (the
//! client id), through a filter. Subscribing again replaces the filter and
//! starts over from the group's committed offset.

use tracing::info;

use super::{identity, resume_offset};
use crate::proto::canal as c;
use crate::serve::canal::filter::Filter;
use crate::serve::canal::packet::ERR_GENERAL;
use crate::serve::canal::session::{CmdError, Reply, Session, Shared, Subscription};

pub async fn apply(sub: c::Sub, session: &mut Session, shared: &Shared) -> Result<Reply, CmdError> {
    let key = identity(&sub.destination, &sub.client_id, "subscribe")?;
    let Some(destination) = shared.destinations.get(&sub.destination) else {
        return Err(CmdError::new(
            ERR_GENERAL,
            format!(
                "unknown destination {:?} (this server has: {})",
                sub.destination,
                shared.destinations.names().join(", ")
            ),
        ));
    };
    let filter =
        Filter::parse(&sub.filter).map_err(|e| CmdError::new(ERR_GENERAL, e.to_string()))?;
    let offset = resume_offset(&destination, &sub.client_id, shared).await?;
    info!(
        peer = %session.peer,
        destination = %sub.destination,
        client_id = %sub.client_id,
        filter = %sub.filter,
        offset,
        "canal subscribe"
    );
    session.subs.insert(
        key,
        Subscription::new(destination, sub.client_id.clone(), filter, offset),
    );
    Ok(Reply::ok())
}
