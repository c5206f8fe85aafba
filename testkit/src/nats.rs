//! A private `nats-server -js` on a free loopback port.

use crate::process::{find_binary, Owned};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct NatsServer {
    process: Owned,
    port: u16,
    _dir: tempfile::TempDir,
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
        let mut command = Command::new(binary);
        command
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path().join("store"))
            .arg("-l")
            .arg(dir.path().join("nats.log"));
        let mut process = Owned::spawn(command, dir.path()).expect("spawn nats-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if process.exited() || Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.path().join("nats.log")).unwrap_or_default();
                panic!("private nats-server did not start; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(NatsServer {
            process,
            port,
            _dir: dir,
        })
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
