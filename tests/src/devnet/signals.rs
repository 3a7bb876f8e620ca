//! The signals that stop the devnet: Ctrl-C (SIGINT), SIGTERM, and SIGHUP unless this process
//! started with SIGHUP ignored (`nohup`): then it stays ignored, as `nohup` asks.

use anyhow::{Context, Result};
use std::sync::OnceLock;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Whether SIGHUP was ignored when this process first listened for the stop signals, before
/// any listener of ours replaced its disposition.
static HANGUP_IGNORED: OnceLock<bool> = OnceLock::new();

/// Listeners for the stop signals, listening from their creation on.
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    /// None when SIGHUP was ignored at start.
    hangup: Option<Signal>,
}

impl StopSignals {
    /// Listens for Ctrl-C, SIGTERM, and SIGHUP unless it was ignored at start.
    pub fn listen() -> Result<Self> {
        let hangup_ignored = *HANGUP_IGNORED.get_or_init(|| ignored(libc::SIGHUP));
        let hangup = if hangup_ignored {
            None
        } else {
            Some(signal(SignalKind::hangup()).context("listening for SIGHUP")?)
        };
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            hangup,
        })
    }

    /// Waits for the next stop signal; which one came.
    pub async fn recv(&mut self) -> &'static str {
        let hangup = async {
            match &mut self.hangup {
                Some(hangup) => hangup.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.terminate.recv() => "SIGTERM",
            _ = hangup => "SIGHUP",
        }
    }
}

/// Waits for Ctrl-C, SIGTERM or SIGHUP (unless ignored at start); which one came.
pub async fn stop_signal() -> Result<&'static str> {
    Ok(StopSignals::listen()?.recv().await)
}

/// Whether `signal`'s disposition is "ignore" (SIG_IGN) now.
fn ignored(signal: libc::c_int) -> bool {
    // SAFETY: an all-zero sigaction is a valid value of the plain C struct; with a null new
    // action, sigaction(2) changes nothing and only writes the current action into `current`.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Process;
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// Set when this test binary runs as the listener of the test below.
    const LISTENER_ROLE: &str = "E2E_TESTS_LISTEN_FOR_STOP_SIGNALS";
    const TEST_NAME: &str = "devnet::signals::tests::sighup_stops_unless_ignored_at_start";
    const LISTENING: &str = "listening for stop signals";
    const RECEIVED: &str = "stop signal: ";

    /// Runs this test as a listener (with SIGHUP ignored from the start when `nohup`), sends it
    /// SIGHUP, then (when `nohup`) SIGTERM half a second later; the signal that stopped it.
    fn stopping_signal(nohup: bool) -> String {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("stdout");
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(LISTENER_ROLE, "1")
            .stdout(std::fs::File::create(&output).unwrap());
        // Set either way: an ignored SIGHUP is inherited, so under a `nohup`ped test run the
        // listener would otherwise ignore it from the start too.
        let disposition = if nohup { libc::SIG_IGN } else { libc::SIG_DFL };
        // SAFETY: runs in the forked child before exec; signal(2) is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                libc::signal(libc::SIGHUP, disposition);
                Ok(())
            });
        }
        let mut listener = Process::spawn(&mut command).unwrap();
        let pid = libc::pid_t::try_from(listener.id().unwrap()).unwrap();
        // What follows `marker` on the listener's output, once it is there.
        let after = |marker: &str| {
            let started = Instant::now();
            loop {
                let text = std::fs::read_to_string(&output).unwrap();
                // libtest's own output may come first on the line.
                if let Some((_, rest)) = text.split_once(marker) {
                    if let Some((value, _)) = rest.split_once('\n') {
                        return value.trim().to_string();
                    }
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "no {marker:?}: {text}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        after(LISTENING);
        // SAFETY: kill(2) touches no memory of ours; `listener` is not reaped, `pid` is its.
        unsafe { libc::kill(pid, libc::SIGHUP) };
        if nohup {
            // The ignored SIGHUP is discarded as it is sent; SIGTERM follows once a listener
            // that wrongly heeded SIGHUP has had time to stop on it. (Without nohup no SIGTERM
            // is sent: with both pending, the listener's select would pick one at random.)
            std::thread::sleep(Duration::from_millis(500));
            // SAFETY: as above (a listener that stopped on SIGHUP is a zombie until reaped).
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let received = after(RECEIVED);
        listener.wait_exit(Duration::from_secs(10));
        received
    }

    #[test]
    fn sighup_stops_unless_ignored_at_start() {
        if std::env::var_os(LISTENER_ROLE).is_some() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let received = runtime.block_on(async {
                let mut signals = StopSignals::listen().unwrap();
                println!("{LISTENING}");
                signals.recv().await
            });
            println!("{RECEIVED}{received}");
            return;
        }
        assert_eq!(stopping_signal(false), "SIGHUP");
        assert_eq!(stopping_signal(true), "SIGTERM", "nohup is obeyed");
    }
}
