//! What a user sees when a command is given a wrong argument: every
//! `sluice` command, each kind of mistake (missing folder, folder without
//! the log, unknown source name, bad URL, bad config file, unreachable
//! server, wrong password, missing privilege, wrong token). Each case
//! checks the exact first `error:` line, the `hint:` where one exists, the
//! exit status, and that no backtrace is printed although RUST_BACKTRACE=1
//! is set. (`sluice-inspect`'s cases are in tools/tests/inspect_cli.rs.)

mod http_support;

use http_support::*;
use sluice_testkit::MariaDb;

struct Outcome {
    code: Option<i32>,
    stderr: String,
    stdout: String,
}

impl Outcome {
    /// The `error:` line (`sluice run` logs before it) and what follows.
    fn error_lines(&self) -> Vec<&str> {
        let lines: Vec<&str> = self.stderr.lines().collect();
        match lines.iter().position(|l| l.starts_with("error: ")) {
            Some(i) => lines[i..].to_vec(),
            None => Vec::new(),
        }
    }
}

async fn sluice(args: &[&str]) -> Outcome {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .env_remove("SLUICE_PASSWORD")
        .env_remove("SLUICE_SOURCE")
        .env_remove("SLUICE_HTTP_TOKEN")
        .output()
        .await
        .unwrap();
    Outcome {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// Runs `args`, then checks the exit status, that stderr's `error:` line
/// is `first`, that the only other lines are `caused by:` / `hint:` ones
/// as `rest` gives them, and that nothing looks like a backtrace.
async fn expect(args: &[&str], code: i32, first: &str, rest: &[&str]) -> Outcome {
    let o = sluice(args).await;
    let lines = o.error_lines();
    assert_eq!(
        lines.first().copied(),
        Some(first),
        "{args:?}:\n{}",
        o.stderr
    );
    assert_eq!(&lines[1..], rest, "{args:?}:\n{}", o.stderr);
    assert_eq!(o.code, Some(code), "{args:?}:\n{}", o.stderr);
    for bad in ["stack backtrace", "Stack backtrace", "panicked", "   0: "] {
        assert!(
            !o.stderr.contains(bad),
            "{args:?}: {bad:?} in\n{}",
            o.stderr
        );
    }
    o
}

/// A data folder with source `shop`'s log at DATA/shop/log.
fn data_folder() -> (tempfile::TempDir, String, String) {
    let d = tempfile::tempdir().unwrap();
    let shop = d.path().join("shop").join("log");
    let log = open_log(&shop);
    append(&log, 0, 3, 1);
    drop(log);
    let data = d.path().to_str().unwrap().to_string();
    let shop = shop.to_str().unwrap().to_string();
    (d, data, shop)
}

#[tokio::test]
async fn log_folder_commands_refuse_the_wrong_folder() {
    let (d, data, shop) = data_folder();
    let gone = d.path().join("gone");
    let gone = gone.to_str().unwrap();
    let unknown = format!("error: no log for source \"shp\" in {data}; logs found: shop ({shop})");
    let itself = format!(
        "error: no log for source \"main\" in {shop}; {shop} is the log of source \"shop\": \
         give --data {data} --name shop"
    );
    for cmd in [
        vec!["tail", "--no-follow"],
        vec!["groups", "list"],
        vec!["history", "--table", "shop.orders"],
    ] {
        let with = |extra: &[&str]| -> Vec<String> {
            cmd.iter()
                .chain(extra.iter())
                .map(|s| s.to_string())
                .collect()
        };
        let args = with(&["--data", gone]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect(&args, 2, &format!("error: no such folder: {gone}"), &[]).await;
        let args = with(&["--data", &data, "--name", "shp"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = expect(&args, 2, &unknown, &[]).await;
        assert!(o.stdout.is_empty());
        let args = with(&["--data", &shop]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect(&args, 2, &itself, &[]).await;
        // The right pair works.
        let args = with(&["--data", &data, "--name", "shop"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = sluice(&args).await;
        assert_eq!(o.code, Some(0), "{args:?}: {}", o.stderr);
    }
}

#[tokio::test]
async fn bad_arguments_read_as_one_line() {
    let (d, data, _shop) = data_folder();
    let dir = d.path();
    let bad_toml = dir.join("bad.toml");
    std::fs::write(&bad_toml, "data = \"/tmp/x\"\nbogus = 1\n").unwrap();
    let broken_toml = dir.join("broken.toml");
    std::fs::write(&broken_toml, "data = \n").unwrap();
    let (bad_toml, broken_toml) = (bad_toml.to_str().unwrap(), broken_toml.to_str().unwrap());
    let missing_toml = dir.join("none.toml");
    let missing_toml = missing_toml.to_str().unwrap();
    let closed = format!("127.0.0.1:{}", sluice_testkit::free_port());
    let cases: Vec<(Vec<String>, i32, String)> = vec![
        (
            vec!["tail", "--data", &data, "--name", "shop", "--from", "soon"],
            1,
            "error: --from \"soon\": expected earliest, latest or an offset".into(),
        ),
        (
            vec!["history", "--data", &data, "--name", "shop", "--table", "orders"],
            1,
            "error: --table \"orders\": expected DB.TABLE".into(),
        ),
        (
            vec!["run", "--source", "db.internal:3306", "--data", &data],
            1,
            "error: source main: source URL db.internal:3306: must start with mysql://".into(),
        ),
        (
            vec!["run", "--source", "mysql://repl@db.internal:3306"],
            1,
            "error: no data folder: give --data DIR or `data = ...` in the config file".into(),
        ),
        (
            vec!["run", "--source", "mysql://repl@db.internal:port", "--data", &data],
            1,
            "error: source main: source URL mysql://repl@db.internal:port: bad HOST:PORT".into(),
        ),
        (
            vec!["run", "--source", "mysql://repl@db.internal?tls=maybe", "--data", &data],
            1,
            "error: source main: tls=maybe: expected disabled, preferred, required, verify or \
             skip-verify"
                .into(),
        ),
        (
            vec!["run", "--source", "mysql://repl@db.internal", "--data", &data, "--start", "soon"],
            1,
            "error: source main: start position \"soon\": expected earliest, current, FILE:POS, \
             gtid:SET or time:RFC3339"
                .into(),
        ),
        (
            vec!["run", "--source", "mysql://repl@db.internal", "--data", &data, "--fsync", "sometimes"],
            1,
            "error: fsync \"sometimes\": expected always, never or interval:MS (e.g. interval:100)"
                .into(),
        ),
        (
            vec!["run", "--source", "mysql://repl@db.internal", "--data", &data, "--password-file", missing_toml],
            1,
            format!(
                "error: cannot read password file {missing_toml}: No such file or directory (os error 2)"
            ),
        ),
        (
            vec!["run", "--source", "mysql://repl@db.internal", "--data", &data, "--include", "shop\\.(orders"],
            1,
            "error: source main: bad include filter \"shop\\\\.(orders\": unclosed group".into(),
        ),
        (
            vec!["run", "--config", missing_toml],
            1,
            format!(
                "error: cannot read config file {missing_toml}: No such file or directory (os error 2)"
            ),
        ),
        (
            vec!["run", "--config", bad_toml],
            1,
            format!(
                "error: config file {bad_toml}: line 2, column 1: unknown field `bogus`, expected \
                 one of `data`, `fsync`, `segment_bytes`, `segment_age`, `retention_bytes`, \
                 `retention_age`, `retention_max_bytes`, `compression`, `canal_protect_groups`, \
                 `source`, `canal_addr`, `http_addr`, `http_token`, `sink`"
            ),
        ),
        (
            vec!["run", "--source", "mysql://u@127.0.0.1:1", "--data", dir.to_str().unwrap(), "--segment-bytes", "12XB"],
            1,
            "error: source \"main\": segment_bytes = \"12XB\": unknown size unit \"XB\": use B, KB, \
             MB, GB, TB, KiB, MiB, GiB or TiB"
                .into(),
        ),
        (
            vec!["run", "--source", "mysql://u@127.0.0.1:1", "--data", dir.to_str().unwrap(), "--retention-age", "30"],
            1,
            "error: source \"main\": retention_age = \"30\": expected a duration with its unit, \
             such as 30s, 12h or 7d, or none"
                .into(),
        ),
        (
            vec!["run", "--source", "mysql://u@127.0.0.1:1", "--data", dir.to_str().unwrap(), "--compression", "lz4"],
            1,
            "error: source \"main\": compression = \"lz4\": expected none, zstd or zstd:LEVEL".into(),
        ),
        (
            vec!["run", "--config", broken_toml],
            1,
            format!("error: config file {broken_toml}: line 1, column 8: invalid string; expected `\"`, `'`"),
        ),
        (
            vec!["decode", missing_toml],
            1,
            format!("error: cannot open binlog file {missing_toml}: No such file or directory (os error 2)"),
        ),
        (
            vec!["decode", bad_toml],
            1,
            "error: bad.toml at byte 0: invalid binlog file: does not start with the binlog magic \
             FE 62 69 6E"
                .into(),
        ),
        (
            vec!["tail", "--server", "localhost:8080", "--source", "shop"],
            1,
            "error: --server \"localhost:8080\": expected http://HOST:PORT".into(),
        ),
        (
            vec!["tail", "--server", &format!("http://{closed}"), "--no-follow"],
            1,
            format!(
                "error: cannot connect to the sluice server at http://{closed}: Connection refused \
                 (os error 111) (is `sluice run --http-addr` listening there?)"
            ),
        ),
        (
            vec!["groups", "list", "--server", &format!("http://{closed}")],
            1,
            format!(
                "error: cannot connect to the sluice server at http://{closed}: Connection refused \
                 (os error 111) (is `sluice run --http-addr` listening there?)"
            ),
        ),
    ]
    .into_iter()
    .map(|(a, c, f)| (a.into_iter().map(String::from).collect(), c, f))
    .collect();
    for (args, code, first) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect(&args, *code, first, &[]).await;
    }
}

#[tokio::test]
async fn a_server_that_refuses_names_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let log = open_log(&d.path().join("main").join("log"));
    append(&log, 0, 3, 1);
    let server = Server::start(&log, Some("s3cret")).await;
    let url = server.url.clone();
    expect(
        &["groups", "list", "--server", &url, "--token", "wrong"],
        1,
        &format!(
            "error: {url}/v1/sources/main/groups: HTTP 401 Unauthorized: unauthorized: \
             bad bearer token (give the server's --http-token with --token or SLUICE_HTTP_TOKEN)"
        ),
        &[],
    )
    .await;
    expect(
        &[
            "tail", "--server", &url, "--token", "s3cret", "--source", "shp", "--no-follow",
        ],
        1,
        &format!(
            "error: {url}/v1/sources/shp/changes: HTTP 404 Not Found: unknown_source: no source named \"shp\"; sources: main"
        ),
        &[],
    )
    .await;
}

/// `sluice run` against a port nothing listens on: the start-up retries
/// (about 6 s) end in one line and a hint.
#[tokio::test]
async fn run_against_an_unreachable_server() {
    let d = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", sluice_testkit::free_port());
    let url = format!("mysql://repl@{addr}");
    expect(
        &[
            "run",
            "--source",
            &url,
            "--data",
            d.path().to_str().unwrap(),
        ],
        1,
        &format!("error: source main: cannot connect to {addr}: Connection refused (os error 111)"),
        &[&format!(
            "hint: check the host and port of the source URL, and that the server at {addr} \
             takes TCP connections from this host"
        )],
    )
    .await;
}

/// A private MariaDB: a wrong password and a user without the replication
/// privileges, each told what to do.
#[tokio::test]
async fn run_with_a_wrong_password_or_missing_privileges() {
    let Some(db) = MariaDb::shared() else { return };
    let d = tempfile::tempdir().unwrap();
    let data = d.path().to_str().unwrap();
    let addr = format!("127.0.0.1:{}", db.port());
    let wrong = format!("mysql://{}:wrong@{addr}", db.user());
    expect(
        &["run", "--source", &wrong, "--data", data, "--name", "pw"],
        1,
        &format!(
            "error: source pw: authentication of user '{}' at {addr} failed: error 1045 (28000): \
             Access denied for user '{}'@'127.0.0.1' (using password: YES)",
            db.user(),
            db.user()
        ),
        &[&format!(
            "hint: the server refused user '{}' with this password: check the password \
             (--password, SLUICE_PASSWORD, --password-file, or password_env / password_file in \
             the source URL or config) and that the user may connect from this host",
            db.user()
        )],
    )
    .await;

    db.sql(
        "CREATE USER IF NOT EXISTS 'weak'@'%' IDENTIFIED BY 'weakpw';
         CREATE USER IF NOT EXISTS 'weak'@'localhost' IDENTIFIED BY 'weakpw';",
    );
    let weak = format!("mysql://weak:weakpw@{addr}");
    let o = sluice(&["run", "--source", &weak, "--data", data, "--name", "weak"]).await;
    let lines = o.error_lines();
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert_eq!(lines.len(), 2, "{}", o.stderr);
    assert!(
        lines[0].starts_with(&format!("error: source weak: {addr} answered ")),
        "{}",
        o.stderr
    );
    assert!(lines[0].contains("denied"), "{}", o.stderr);
    assert_eq!(
        lines[1],
        "hint: the source user lacks a privilege capture needs; as an administrator run GRANT \
         REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'USER'@'HOST' (MariaDB 10.5+: \
         BINLOG MONITOR instead of REPLICATION CLIENT)",
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("stack backtrace"), "{}", o.stderr);
    eprintln!("missing privilege: {}", lines[0]);
}

/// `--debug` is the way to the full form, backtrace included.
#[tokio::test]
async fn debug_prints_the_backtrace() {
    let d = tempfile::tempdir().unwrap();
    let gone = d.path().join("gone");
    let o = sluice(&["--debug", "tail", "--data", gone.to_str().unwrap()]).await;
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.starts_with("error: no such folder: "),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("Stack backtrace"), "{}", o.stderr);
}
