//! Owning a server process: stop it by pid on drop and at exit, and leave a
//! watchdog behind that stops it if the test binary itself is killed.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Pids that must not outlive this process. `atexit` kills what is left:
/// a server shared through a `static` is never dropped.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static ATEXIT: std::sync::Once = std::sync::Once::new();

extern "C" fn kill_live() {
    if let Ok(pids) = LIVE.lock() {
        for &pid in pids.iter() {
            // SAFETY: kill(2) on a pid we spawned; no memory is touched.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// A child server process, stopped when dropped.
pub(crate) struct Owned {
    child: Child,
    _watchdog: Option<Child>,
}

impl Owned {
    /// Start `command`. `dir`: the server's temporary folder, which the
    /// watchdog removes once the server is stopped (a server shared
    /// through a `static` never drops its `TempDir`).
    pub(crate) fn spawn(mut command: Command, dir: &std::path::Path) -> std::io::Result<Owned> {
        ATEXIT.call_once(|| {
            // SAFETY: registers a plain extern "C" fn with no captured state.
            unsafe { libc::atexit(kill_live) };
        });
        let child = command.stdin(Stdio::null()).spawn()?;
        let pid = child.id();
        LIVE.lock().map(|mut l| l.push(pid)).ok();
        // The watchdog polls our pid; when we are gone (even by SIGKILL) it
        // ends the server and removes its folder. It runs in its own
        // session so a Ctrl-C on the test run reaches it only through us.
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -TERM {pid} 2>/dev/null; \
             i=0; while kill -0 {pid} 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; \
             kill -KILL {pid} 2>/dev/null; sleep 0.2; rm -rf -- \"$1\"",
            me = std::process::id()
        );
        let watchdog = Command::new("setsid")
            .args(["sh", "-c", &script, "watchdog"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        Ok(Owned {
            child,
            _watchdog: watchdog,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Has the process exited already?
    pub(crate) fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL.
    pub(crate) fn stop(&mut self, grace: Duration) {
        let pid = self.child.id() as libc::pid_t;
        if !self.exited() {
            // SAFETY: kill(2) on the pid of our own child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && !self.exited() {
                std::thread::sleep(Duration::from_millis(20));
            }
            if !self.exited() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        LIVE.lock().map(|mut l| l.retain(|&p| p != pid as u32)).ok();
    }

    /// SIGKILL at once, as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let pid = self.child.id();
        LIVE.lock().map(|mut l| l.retain(|&p| p != pid)).ok();
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
        if let Some(w) = self._watchdog.as_mut() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// First of `names` found on PATH or in the sbin folders Debian uses.
pub(crate) fn find_binary(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<std::path::PathBuf> = std::env::split_paths(&path).collect();
    for extra in [
        "/usr/sbin",
        "/usr/local/sbin",
        "/sbin",
        "/usr/bin",
        "/usr/local/bin",
    ] {
        dirs.push(extra.into());
    }
    for name in names {
        for dir in &dirs {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}
