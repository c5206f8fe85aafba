//! The Canal server: configuration, the accept loop with its connection
//! limit and graceful shutdown, and the life of one connection
//! (handshake → client auth → requests until the client leaves).
//!
//! A connection whose bytes cannot be understood (a garbage frame, a length
//! over the limit, a truncated protobuf, failed authentication) gets an
//! error ACK naming the problem and is closed; other connections are not
//! affected. Errors of a single request (unknown destination, a get before
//! subscribing, an out-of-order ack) get an error ACK and the connection
//! goes on, as in Canal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::cmd;
use super::config::CanalConfig;
use super::connection::{ConnError, Connection};
use super::packet::{self, ERR_GENERAL};
use super::session::{Session, Shared};
use crate::proto::canal as c;
use crate::serve::destination::Destinations;

/// A bound Canal server.
pub struct CanalServer {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl CanalServer {
    /// Binds `config.addr`.
    pub async fn bind(config: CanalConfig, destinations: Destinations) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        Ok(CanalServer {
            listener,
            shared: Arc::new(Shared {
                config,
                destinations,
            }),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets each
    /// connection finish the request it is in, and returns. Outstanding
    /// (unacked) batches are not committed.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let limit = Arc::new(Semaphore::new(self.shared.config.max_connections));
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        info!(addr = %self.listener.local_addr()?, "canal server listening");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = self.listener.accept() => {
                    let (socket, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            // Out of file descriptors and the like: wait, go on.
                            warn!(error = %e, "canal accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    match limit.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let shared = self.shared.clone();
                            let stop = stop_rx.clone();
                            tasks.spawn(async move {
                                serve(socket, peer, shared, stop).await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            let max = self.shared.config.max_connections;
                            let max_frame = self.shared.config.max_frame_bytes;
                            tasks.spawn(async move {
                                warn!(%peer, max, "canal connection refused: too many connections");
                                if let Ok(mut conn) = Connection::new(socket, max_frame) {
                                    let _ = conn
                                        .write_error(ERR_GENERAL, &format!("too many connections (limit {max})"))
                                        .await;
                                }
                            });
                        }
                    }
                }
            }
        }
        let _ = stop_tx.send(true);
        drop(self.listener);
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            warn!("canal connections still busy after 10 s of shutdown: aborting them");
            tasks.abort_all();
        }
        info!("canal server stopped");
        Ok(())
    }
}

/// One connection, start to end.
async fn serve(
    socket: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = match Connection::new(socket, shared.config.max_frame_bytes) {
        Ok(c) => c,
        Err(e) => {
            debug!(%peer, error = %e, "canal connection lost before it started");
            return;
        }
    };
    debug!(%peer, "canal connection");
    match session(&mut conn, &shared, &mut stop).await {
        Ok(()) => debug!(%peer, "canal connection closed"),
        Err(e) => warn!(%peer, error = %e, "canal connection closed"),
    }
}

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error(transparent)]
    Conn(#[from] ConnError),
    #[error("{0}")]
    Refused(String),
}

async fn session(
    conn: &mut Connection,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), SessionEnd> {
    let mut seed = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut seed);
    let mut session = Session::new(conn.peer(), seed, shared.config.idle_timeout);
    conn.write_packet(c::PacketType::Handshake, &packet::handshake_body(&seed))
        .await?;

    // Authentication.
    let first = match tokio::time::timeout(shared.config.auth_timeout, read(conn)).await {
        Err(_) => {
            let msg = format!(
                "no client authentication within {:?}",
                shared.config.auth_timeout
            );
            let _ = conn.write_error(ERR_GENERAL, &msg).await;
            return Err(SessionEnd::Refused(msg));
        }
        Ok(r) => match r? {
            Some(p) => p,
            None => return Ok(()),
        },
    };
    if first.r#type != c::PacketType::Clientauthentication as i32 {
        let msg = format!(
            "expected CLIENTAUTHENTICATION after the handshake, got packet type {}",
            first.r#type
        );
        let _ = conn.write_error(ERR_GENERAL, &msg).await;
        return Err(SessionEnd::Refused(msg));
    }
    let auth = match cmd::decode::<c::ClientAuth>(&first.body, "ClientAuth") {
        Ok(a) => a,
        Err(e) => {
            let _ = conn.write_error(e.code, &e.message).await;
            return Err(SessionEnd::Refused(e.message));
        }
    };
    match cmd::client_auth::apply(auth, &mut session, shared).await {
        Ok(reply) => write_reply(conn, reply).await?,
        Err(e) => {
            conn.write_error(e.code, &e.message).await?;
            if e.fatal {
                return Err(SessionEnd::Refused(e.message));
            }
        }
    }

    // Requests.
    loop {
        let packet = tokio::select! {
            r = tokio::time::timeout(session.idle_timeout, read(conn)) => match r {
                Err(_) => return Err(SessionEnd::Refused(format!("idle for {:?}", session.idle_timeout))),
                Ok(r) => match r? {
                    Some(p) => p,
                    None => return Ok(()),
                },
            },
            _ = stop.changed() => return Ok(()),
        };
        match cmd::dispatch(packet, &mut session, shared, stop).await {
            Ok(Some(reply)) => write_reply(conn, reply).await?,
            Ok(None) => {}
            Err(e) => {
                debug!(peer = %session.peer, code = e.code, message = %e.message, "canal request failed");
                conn.write_error(e.code, &e.message).await?;
                if e.fatal {
                    return Err(SessionEnd::Refused(e.message));
                }
            }
        }
        if *stop.borrow() {
            return Ok(());
        }
    }
}

/// Reads a packet; on a framing error, tells the client before giving up.
async fn read(conn: &mut Connection) -> Result<Option<c::Packet>, SessionEnd> {
    match conn.read_packet().await {
        Ok(p) => Ok(p),
        Err(e @ (ConnError::Frame { .. } | ConnError::BadPacket { .. })) => {
            let _ = conn.write_error(ERR_GENERAL, &e.to_string()).await;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

async fn write_reply(conn: &mut Connection, reply: super::session::Reply) -> Result<(), ConnError> {
    let parts: Vec<&[u8]> = reply.parts.iter().map(Vec::as_slice).collect();
    conn.write_packet_parts(reply.kind, &parts).await
}
