//! Child processes of the test network and the devnet: a handle that kills and reaps its
//! process when dropped, stops it gracefully on demand (SIGTERM through kill(2), then SIGKILL),
//! and, on Linux, a child that dies with the thread that started it, so that no process
//! outlives a test or a devnet killed outright.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) and reaped on drop; by default, none yet.
#[derive(Default)]
pub struct Process(Option<Child>);

impl Process {
    /// Starts `command` as a process that dies with its parent ([`dies_with_parent`]).
    pub fn spawn(command: &mut Command) -> std::io::Result<Self> {
        Ok(Self(Some(dies_with_parent(command).spawn()?)))
    }

    /// Its process id, until it is reaped.
    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }

    /// `kill -9`, and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits up to `timeout` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Some(child) = self.0.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.0 = None;
                    return Some(status);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.0
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// SIGTERM, then `kill -9` if it has not exited within `grace`.
    pub fn stop(&mut self, grace: Duration) {
        self.terminate();
        if self.wait_exit(grace).is_none() {
            self.kill9();
        }
    }

    /// SIGTERM (graceful stop), unless it has exited already.
    pub fn terminate(&mut self) {
        if self.exited().is_some() {
            return;
        }
        if let Some(child) = &self.0 {
            let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
            // SAFETY: kill(2) touches no memory of ours. The child is not reaped yet (checked
            // just above; only this handle reaps it), so `pid` still names it.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
}

/// Makes the process `command` starts get SIGKILL when the thread that started it ends — with
/// this process, however it ends (SIGKILL included). A long-lived process must be started from
/// a thread that lives as long as its handle: the main thread or an async runtime's worker, not
/// a short-lived thread (tokio's blocking pool ends idle threads). Linux only; elsewhere a child
/// is stopped only by its handle.
#[cfg(target_os = "linux")]
pub fn dies_with_parent(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    let parent = libc::pid_t::try_from(std::process::id()).expect("a pid fits pid_t");
    // SAFETY: the closure runs in the forked child before exec; it only makes async-signal-safe
    // system calls and allocates nothing (errors from raw codes).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before the call: no signal will come, so do not start.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        })
    }
}

#[cfg(not(target_os = "linux"))]
pub fn dies_with_parent(command: &mut Command) -> &mut Command {
    command
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    /// Set when this test binary runs as the parent of the test below.
    const PARENT_ROLE: &str = "E2E_TESTS_BE_THE_PARENT";
    /// What the parent prints before its child's pid.
    const CHILD_PID: &str = "child pid: ";
    const TEST_NAME: &str = "process::tests::a_child_dies_when_its_parent_is_killed";

    /// Whether process `pid` still runs (a zombie waiting for its reaper does not).
    fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            // The state follows the parenthesised command name.
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
        })
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_dies_when_its_parent_is_killed() {
        if std::env::var_os(PARENT_ROLE).is_some() {
            // The parent: start a long sleep through the helper, say its pid, wait to be killed.
            let child = Process::spawn(Command::new("sleep").arg("600")).unwrap();
            println!("{CHILD_PID}{}", child.id().unwrap());
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        let mut parent = Process::spawn(
            Command::new(std::env::current_exe().unwrap())
                .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(PARENT_ROLE, "1")
                .stdout(Stdio::piped()),
        )
        .unwrap();
        let stdout = parent.0.as_mut().unwrap().stdout.take().unwrap();
        let child: u32 = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // libtest's own output may come first on the line.
            .find_map(|line| Some(line.split_once(CHILD_PID)?.1.trim().parse().unwrap()))
            .expect("the parent names its child");
        assert!(running(child), "the child runs while its parent does");
        parent.kill9();
        let started = Instant::now();
        while running(child) && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!running(child), "child {child} outlived its parent");
    }

    #[test]
    fn stop_ends_a_process_with_sigterm() {
        let mut process = Process::spawn(Command::new("sleep").arg("600")).unwrap();
        let pid = process.id().unwrap();
        process.terminate();
        let status = process
            .wait_exit(Duration::from_secs(10))
            .expect("it exits");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        assert!(!running(pid));
        // Terminating a process already gone signals nothing.
        process.terminate();
    }
}
