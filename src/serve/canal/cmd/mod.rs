//! One module per request of Canal's protocol: each parses its packet body,
//! applies it to the [`Session`], and says what to answer. Commands never
//! touch the socket; the connection never looks inside a command.
//!
//! | request | answer |
//! |---|---|
//! | CLIENTAUTHENTICATION ([`client_auth`]) | ACK (error: close) |
//! | SUBSCRIPTION ([`subscribe`]) | ACK |
//! | UNSUBSCRIPTION ([`unsubscribe`]) | ACK |
//! | GET ([`get`]) | MESSAGES, or an error ACK |
//! | CLIENTACK ([`ack`]) | nothing; an error ACK if the batch is wrong |
//! | CLIENTROLLBACK ([`rollback`]) | nothing; an error ACK if the batch is wrong |
//! | anything else | error ACK 400 |
//!
//! Acks and rollbacks get no reply, so their errors cannot be answered at
//! once. Canal writes the error ACK immediately anyway; its clients then take
//! it as the reply to their next request, and every later reply is off by
//! one. sluice keeps the error and answers the client's next request with
//! it, without running that request, so that replies stay in step.

pub mod ack;
pub mod client_auth;
pub mod get;
pub mod rollback;
pub mod subscribe;
pub mod unsubscribe;

use std::sync::Arc;

use prost::Message;
use tokio::sync::watch;

use super::packet::{ERR_GENERAL, ERR_IDENTITY};
use super::session::{CmdError, Reply, Session, Shared, SubKey, Subscription};
use crate::proto::canal as c;
use crate::serve::destination::Destination;

/// Applies one packet received after authentication.
pub async fn dispatch(
    packet: c::Packet,
    session: &mut Session,
    shared: &Shared,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<Reply>, CmdError> {
    let kind = c::PacketType::try_from(packet.r#type);
    let silent = matches!(
        kind,
        Ok(c::PacketType::Clientack | c::PacketType::Clientrollback)
    );
    if !silent {
        if let Some(e) = session.pending_error.take() {
            return Err(e);
        }
    }
    let result = run(kind, packet, session, shared, shutdown).await;
    match result {
        Err(e) if silent && !e.fatal => {
            session.pending_error.get_or_insert(e);
            Ok(None)
        }
        other => other,
    }
}

async fn run(
    kind: Result<c::PacketType, prost::UnknownEnumValue>,
    packet: c::Packet,
    session: &mut Session,
    shared: &Shared,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<Reply>, CmdError> {
    match kind {
        Ok(c::PacketType::Subscription) => {
            subscribe::apply(decode(&packet.body, "Sub")?, session, shared)
                .await
                .map(Some)
        }
        Ok(c::PacketType::Unsubscription) => {
            unsubscribe::apply(decode(&packet.body, "Unsub")?, session).map(Some)
        }
        Ok(c::PacketType::Get) => {
            get::apply(decode(&packet.body, "Get")?, session, shared, shutdown)
                .await
                .map(Some)
        }
        Ok(c::PacketType::Clientack) => ack::apply(decode(&packet.body, "ClientAck")?, session)
            .await
            .map(|()| None),
        Ok(c::PacketType::Clientrollback) => {
            rollback::apply(decode(&packet.body, "ClientRollback")?, session).map(|()| None)
        }
        Ok(other) => Err(CmdError::new(
            ERR_GENERAL,
            format!("packet type {} is not supported here", other.as_str_name()),
        )),
        Err(_) => Err(CmdError::new(
            ERR_GENERAL,
            format!("unknown packet type {}", packet.r#type),
        )),
    }
}

/// Decodes a packet body; a body that is not the expected message ends the
/// connection (the client is broken or not speaking Canal).
pub fn decode<M: Message + Default>(body: &[u8], what: &str) -> Result<M, CmdError> {
    M::decode(body).map_err(|e| {
        CmdError::fatal(
            ERR_GENERAL,
            format!(
                "packet body of {} bytes is not a valid {what}: {e}",
                body.len()
            ),
        )
    })
}

/// Canal refuses requests without destination or client id (401).
pub fn identity(destination: &str, client_id: &str, what: &str) -> Result<SubKey, CmdError> {
    if destination.is_empty() || client_id.is_empty() {
        return Err(CmdError::new(
            ERR_IDENTITY,
            format!("{what}: destination or clientId is empty (destination={destination:?}, clientId={client_id:?})"),
        ));
    }
    Ok((destination.to_string(), client_id.to_string()))
}

/// The subscription a request names, or Canal's "subscribe first" error.
pub fn subscription<'a>(
    session: &'a mut Session,
    key: &SubKey,
) -> Result<&'a mut Subscription, CmdError> {
    session.subs.get_mut(key).ok_or_else(|| {
        CmdError::new(
            ERR_GENERAL,
            format!(
                "client {:?} has not subscribed to destination {:?}: subscribe first",
                key.1, key.0
            ),
        )
    })
}

/// Where a group resumes (creating it with the configured reset policy
/// if it is new), off the async threads: it may write the group's file.
pub async fn resume_offset(
    destination: &Arc<dyn Destination>,
    group: &str,
    shared: &Shared,
) -> Result<u64, CmdError> {
    let d = destination.clone();
    let g = group.to_string();
    let (policy, protect) = (shared.config.new_group, shared.config.protect_groups);
    tokio::task::spawn_blocking(move || d.resume(&g, policy, protect))
        .await
        .map_err(|e| CmdError::new(ERR_GENERAL, format!("resume task failed: {e}")))?
        .map_err(|e| CmdError::new(ERR_GENERAL, e.to_string()))
}

/// Commits a group offset durably, off the async threads (it may fsync).
pub async fn commit(
    destination: &Arc<dyn Destination>,
    group: &str,
    offset: u64,
) -> Result<(), CmdError> {
    let d = destination.clone();
    let g = group.to_string();
    tokio::task::spawn_blocking(move || d.commit(&g, offset))
        .await
        .map_err(|e| CmdError::new(ERR_GENERAL, format!("commit task failed: {e}")))?
        .map_err(|e| {
            CmdError::new(
                ERR_GENERAL,
                format!("committing group {group:?} at offset {offset}: {e}"),
            )
        })
}
