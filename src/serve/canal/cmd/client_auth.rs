//! CLIENTAUTHENTICATION: the first packet a client sends, answering the
//! server's Handshake. Checks the credentials (see [`super::super::auth`]),
//! takes the client's idle timeout, and — as Canal does — subscribes right
//! away when the packet names a destination and client id.

use std::time::Duration;

use super::subscribe;
use crate::proto::canal as c;
use crate::serve::canal::packet::ERR_GENERAL;
use crate::serve::canal::session::{CmdError, Reply, Session, Shared};

pub async fn apply(
    auth: c::ClientAuth,
    session: &mut Session,
    shared: &Shared,
) -> Result<Reply, CmdError> {
    if let Some(creds) = &shared.config.credentials {
        if !creds.check(&auth.username, &auth.password, &session.seed) {
            return Err(CmdError::fatal(
                ERR_GENERAL,
                format!("auth failed for user:{}", auth.username),
            ));
        }
    }
    session.user = Some(auth.username.clone());
    // Canal reads net_read_timeout as milliseconds.
    if let Some(ms) = auth.net_read_timeout.filter(|ms| *ms > 0) {
        session.idle_timeout = Duration::from_millis(ms as u64);
    }
    if !auth.destination.is_empty() && !auth.client_id.is_empty() {
        let sub = c::Sub {
            destination: auth.destination,
            client_id: auth.client_id,
            filter: auth.filter,
        };
        // An error here is the subscription's, reported as the auth reply;
        // the client may still subscribe properly afterwards.
        subscribe::apply(sub, session, shared).await?;
    }
    Ok(Reply::ok())
}
