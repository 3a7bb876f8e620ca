//! The signals that stop the node (SIGTERM, Ctrl-C/SIGINT), listened for once, from the start:
//! a second signal that comes while the node handles the first is never missed (a listener
//! made after it was sent would not see it).

use anyhow::{Context as _, Result};

pub struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening (inside a tokio runtime).
    pub fn listen() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
                interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next signal (one not waited for yet, even if it came earlier).
    pub async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Duration;

    fn raise(signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal}");
    }

    #[tokio::test]
    async fn signals_sent_before_they_are_waited_for_are_each_counted() {
        let mut signals = StopSignals::listen().unwrap();
        raise("TERM");
        raise("INT");
        for nth in ["first", "second"] {
            tokio::time::timeout(Duration::from_secs(5), signals.next())
                .await
                .unwrap_or_else(|_| panic!("the {nth} signal was missed"));
        }
    }
}
