//! A private `nats-server -js` on a free loopback port.

use crate::process::{find_binary, Owned};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct NatsServer {
    process: Owned,
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Start a JetStream-enabled server, or `None` (after a printed skip)
    /// when `nats-server` is not installed and we are not in CI.
    pub fn start() -> Option<NatsServer> {
        let Some(binary) = find_binary(&["nats-server"]) else {
            crate::missing(
                "nats-server not found: install it with `apt-get install -y nats-server`",
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("sluice-nats-")
            .tempdir()
            .expect("create temp dir for nats-server");
        let port = crate::free_port();
        let process = spawn(&binary, dir.path(), port);
        Some(NatsServer {
            process,
            binary,
            port,
            dir,
        })
    }

    /// Stop the server (SIGTERM) and start it again on the same port and
    /// JetStream store, as an operator's restart does.
    pub fn restart(&mut self) {
        self.process.stop(Duration::from_secs(20));
        self.process = spawn(&self.binary, self.dir.path(), self.port);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// Starts `nats-server -js` with its store and log in `dir`, and waits
/// until it accepts connections.
fn spawn(binary: &Path, dir: &Path, port: u16) -> Owned {
    let mut command = Command::new(binary);
    command
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.join("store"))
        .arg("-l")
        .arg(dir.join("nats.log"));
    let mut process = Owned::spawn(command, dir).expect("spawn nats-server");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if process.exited() || Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("nats.log")).unwrap_or_default();
            panic!("private nats-server did not start; its log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    process
}
