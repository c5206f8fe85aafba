//! The `sluice` command line. It only wires: every command's work lives in
//! the library.

use clap::{Parser, Subcommand};

// Decoding builds many small values (one per column of every row image)
// and frees them once a transaction is encoded: mimalloc's thread-local
// free lists make that about a fifth cheaper than glibc's malloc, measured
// with tools/bench-capture.sh. Without transparent huge pages (`no_thp`):
// with them a half-used 2 MB page counts whole, and peak RSS was a third
// higher for the same work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Change-data-capture for MySQL and MariaDB"
)]
struct Cli {
    /// On an error, print its full debug form (and a backtrace when
    /// RUST_BACKTRACE=1) instead of one line per cause.
    #[arg(long, global = true)]
    debug: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the version and exit.
    Version,
    /// Capture sources into their logs (runs until stopped, or with
    /// `--until current` until the server's binlog end at start-up).
    Run(Box<sluice::cli::run::RunArgs>),
    /// Print a log's change events (read-only; safe while `run` writes).
    Tail(sluice::cli::tail::TailArgs),
    /// Manage consumer groups on a running server or in a data folder.
    Groups(sluice::cli::groups::GroupsArgs),
    /// A table's (or one row's) changes over a time range, from the log.
    History(sluice::cli::history::HistoryArgs),
    /// Start, list or cancel on-demand table snapshots on a running server.
    Snapshot(sluice::cli::snapshot::SnapshotArgs),
    /// Decode binlog files into change events, one JSON object per line.
    Decode {
        /// Binlog files, decoded in order as one stream.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Output format: json, canal-json or debezium-json.
        #[arg(long, default_value = "json")]
        format: sluice::format::Format,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => sluice::cli::report::report(&e, cli.debug),
    }
}

fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    match command {
        Command::Version => println!("sluice {}", env!("CARGO_PKG_VERSION")),
        Command::Run(args) => {
            sluice::cli::init_logging();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(sluice::cli::run::main(*args))?;
        }
        Command::Tail(args) => sluice::cli::tail::main(args)?,
        Command::Groups(args) => sluice::cli::groups::main(args)?,
        Command::History(args) => sluice::cli::history::main(args)?,
        Command::Snapshot(args) => sluice::cli::snapshot::main(args)?,
        Command::Decode { files, format } => {
            let outcome = sluice::decode::command::run(
                &files,
                format,
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            )?;
            return Ok(std::process::ExitCode::from(outcome.exit_code() as u8));
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
