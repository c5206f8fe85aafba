//! A private MariaDB: its own datadir, socket and loopback port, ROW binlog
//! on, a replication user, no anonymous accounts.

use crate::process::{find_binary, Owned};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The account tests and sluice connect with (all privileges).
pub const USER: &str = "sluice";
pub const PASSWORD: &str = "sluice-test-pw";

/// Server options a test may ask for. Every `Option` left `None` keeps
/// MariaDB's default.
#[derive(Clone, Debug)]
pub struct MariaDbOptions {
    pub server_id: u32,
    /// `binlog_row_metadata`: `NO_LOG` (MariaDB's default, kept when
    /// `None`), `MINIMAL` or `FULL`.
    pub row_metadata: Option<String>,
    /// `binlog_row_image`: `FULL`, `MINIMAL` or `NOBLOB`.
    pub row_image: Option<String>,
    /// `binlog_checksum`: `NONE` or `CRC32`.
    pub checksum: Option<String>,
    pub gtid_strict_mode: bool,
    /// Serve TLS with a certificate signed by a CA generated for this server.
    pub tls: bool,
    /// `max_allowed_packet`, e.g. `64M`.
    pub max_allowed_packet: Option<String>,
    /// Anything else, as `--name=value` arguments to `mariadbd`.
    pub extra_args: Vec<String>,
}

impl Default for MariaDbOptions {
    fn default() -> Self {
        MariaDbOptions {
            server_id: 1,
            row_metadata: None,
            row_image: None,
            checksum: None,
            gtid_strict_mode: false,
            tls: false,
            max_allowed_packet: None,
            extra_args: Vec::new(),
        }
    }
}

/// Certificate files of a TLS-enabled server.
#[derive(Clone, Debug)]
pub struct Tls {
    /// The CA that signed the server certificate (for clients to verify).
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct MariaDb {
    process: Owned,
    args: Vec<String>,
    mariadbd: PathBuf,
    client: PathBuf,
    port: u16,
    tls: Option<Tls>,
    // Dropped last: the datadir goes after the server has stopped.
    dir: tempfile::TempDir,
}

impl MariaDb {
    /// Start a server with default options, or `None` (after a printed
    /// skip) when MariaDB is not installed and we are not in CI.
    pub fn start_default() -> Option<MariaDb> {
        MariaDb::start(MariaDbOptions::default())
    }

    /// One server per test binary, for tests that use separate schemas.
    pub fn shared() -> Option<&'static MariaDb> {
        static SHARED: OnceLock<Option<MariaDb>> = OnceLock::new();
        let mut first = false;
        let db = SHARED
            .get_or_init(|| {
                first = true;
                MariaDb::start_default()
            })
            .as_ref();
        if db.is_none() && !first {
            // The first caller printed and counted the skip; count each
            // later test that skips for the same reason too.
            crate::note_skip("mariadbd not found");
        }
        db
    }

    pub fn start(options: MariaDbOptions) -> Option<MariaDb> {
        let Some(mariadbd) = find_binary(&["mariadbd", "mysqld"]) else {
            crate::missing(
                "mariadbd not found: install it with `apt-get install -y mariadb-server`",
            );
            return None;
        };
        let (Some(install_db), Some(client)) = (
            find_binary(&["mariadb-install-db", "mysql_install_db"]),
            find_binary(&["mariadb", "mysql"]),
        ) else {
            crate::missing("mariadb-install-db or the mariadb client not found: install them with `apt-get install -y mariadb-server mariadb-client`");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("sluice-mariadb-")
            .tempdir()
            .expect("create temp dir for MariaDB");
        let datadir = dir.path().join("data");
        install(&install_db, &datadir, dir.path());
        let tls = options.tls.then(|| write_certificates(dir.path()));
        let port = crate::free_port();
        let args = server_args(&options, dir.path(), port, tls.as_ref());
        let process = spawn(&mariadbd, &args, dir.path());
        let mut db = MariaDb {
            process,
            args,
            mariadbd,
            client,
            port,
            tls,
            dir,
        };
        db.wait_ready();
        db.sql(&format!(
            "DELETE FROM mysql.global_priv WHERE User = '';
             FLUSH PRIVILEGES;
             CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';
             GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION;
             RESET MASTER;"
        ));
        Some(db)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// The folder holding the datadir, and with it the binlog files.
    pub fn datadir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The binlog files written so far, oldest first.
    pub fn binlog_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.datadir())
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("mysql-bin.") && !n.ends_with(".index"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    pub fn user(&self) -> &'static str {
        USER
    }

    pub fn password(&self) -> &'static str {
        PASSWORD
    }

    /// `mysql://USER:PASSWORD@127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("mysql://{USER}:{PASSWORD}@127.0.0.1:{}", self.port)
    }

    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// Run SQL as root over the socket; returns the tab-separated rows.
    /// Panics with the server's message on failure (this is a test helper).
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("SQL failed: {e}\n--- statement ---\n{sql}"))
    }

    /// Run SQL as root over the socket.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        let output = Command::new(&self.client)
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["--user=root", "--batch", "--skip-column-names", "--raw"])
            .args(["--execute", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.client.display()))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Stop the server cleanly and start it again on the same port and
    /// datadir (for tests of reconnect and resume).
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Stop the server cleanly (a target that is down for a while).
    pub fn stop(&mut self) {
        self.process.stop(Duration::from_secs(30));
    }

    /// Start a stopped server again on the same port and datadir.
    pub fn start_again(&mut self) {
        self.process = spawn(&self.mariadbd, &self.args, self.dir.path());
        self.wait_ready();
    }

    /// Kill the server with SIGKILL and start it again.
    pub fn crash_and_restart(&mut self) {
        self.process.kill();
        self.process = spawn(&self.mariadbd, &self.args, self.dir.path());
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.try_sql("SELECT 1").is_ok() {
                return;
            }
            if self.process.exited() || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
                panic!("private MariaDB did not start; its error log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn install(install_db: &Path, datadir: &Path, dir: &Path) {
    // The bootstrap server gets its own temporary folder (as the real one
    // does), and a failed bootstrap — seen when several start at once on a
    // loaded machine — is retried on a fresh datadir.
    let mut last = String::new();
    for _attempt in 0..3 {
        let _ = std::fs::remove_dir_all(datadir);
        let mut command = Command::new(install_db);
        command
            .env("TMPDIR", dir)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", datadir.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]);
        if running_as_root() {
            command.arg("--user=root");
        }
        let output = command
            .stdin(Stdio::null())
            .output()
            .expect("run mariadb-install-db");
        std::fs::write(
            dir.join("install.log"),
            [&output.stdout[..], &output.stderr[..]].concat(),
        )
        .ok();
        if output.status.success() {
            return;
        }
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("mariadb-install-db failed three times:\n{last}");
}

fn server_args(options: &MariaDbOptions, dir: &Path, port: u16, tls: Option<&Tls>) -> Vec<String> {
    let d = dir.display();
    let mut args = vec![
        "--no-defaults".to_string(),
        format!("--datadir={d}/data"),
        format!("--socket={d}/mysqld.sock"),
        format!("--pid-file={d}/mariadbd.pid"),
        format!("--log-error={d}/error.log"),
        // Its own temporary folder: servers sharing /tmp have been seen
        // failing queries on each other's `#sql-temptable-*` files.
        format!("--tmpdir={d}"),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".into(),
        "--skip-name-resolve".into(),
        "--log-bin=mysql-bin".into(),
        "--binlog-format=ROW".into(),
        format!("--server-id={}", options.server_id),
        "--character-set-server=utf8mb4".into(),
        "--collation-server=utf8mb4_general_ci".into(),
        "--innodb-buffer-pool-size=128M".into(),
        "--innodb-flush-log-at-trx-commit=2".into(),
        "--sync-binlog=0".into(),
        "--max-connections=500".into(),
    ];
    if running_as_root() {
        args.push("--user=root".into());
    }
    if let Some(v) = &options.row_metadata {
        args.push(format!("--binlog-row-metadata={v}"));
    }
    if let Some(v) = &options.row_image {
        args.push(format!("--binlog-row-image={v}"));
    }
    if let Some(v) = &options.checksum {
        args.push(format!("--binlog-checksum={v}"));
    }
    if options.gtid_strict_mode {
        args.push("--gtid-strict-mode=ON".into());
    }
    if let Some(v) = &options.max_allowed_packet {
        args.push(format!("--max-allowed-packet={v}"));
    }
    if let Some(tls) = tls {
        args.push(format!("--ssl-ca={}", tls.ca.display()));
        args.push(format!("--ssl-cert={}", tls.cert.display()));
        args.push(format!("--ssl-key={}", tls.key.display()));
    }
    args.extend(options.extra_args.iter().cloned());
    args
}

fn spawn(mariadbd: &Path, args: &[String], dir: &Path) -> Owned {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stdout.log"))
        .expect("open MariaDB stdout log");
    let err = out.try_clone().expect("clone log handle");
    let mut command = Command::new(mariadbd);
    command.args(args).stdout(out).stderr(err);
    Owned::spawn(command, dir).expect("spawn mariadbd")
}

/// A CA and a server certificate for `localhost` / `127.0.0.1`, as PEM files.
fn write_certificates(dir: &Path) -> Tls {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sluice test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
    let ca_issuer = rcgen::Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_cert = params
        .signed_by(&server_key, &ca_issuer)
        .expect("sign server certificate");

    let tls = Tls {
        ca: dir.join("ca.pem"),
        cert: dir.join("server-cert.pem"),
        key: dir.join("server-key.pem"),
    };
    std::fs::write(&tls.ca, ca_cert.pem()).expect("write ca.pem");
    std::fs::write(&tls.cert, server_cert.pem()).expect("write server-cert.pem");
    std::fs::write(&tls.key, server_key.serialize_pem()).expect("write server-key.pem");
    tls
}
