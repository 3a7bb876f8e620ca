//! Child processes of the test network and the devnet: a handle that kills and reaps its
//! process when dropped, stops it gracefully on demand (one SIGTERM through kill(2), then
//! SIGKILL), alone or several under one deadline, and a child in its own process group that, on
//! Linux, dies with the thread that started it, so that no process outlives a test or a devnet
//! killed outright, and none gets the terminal's signals (Ctrl-C, hang-up) directly.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) and reaped on drop; by default, none yet.
#[derive(Default)]
pub struct Process {
    child: Option<Child>,
    /// Whether it was sent SIGTERM: it is sent once only, since a second one may stop a process
    /// at once instead of gracefully (`oracle-node` exits with code 130 on it).
    terminated: bool,
}

impl Process {
    /// Starts `command` as a process that dies with its parent ([`dies_with_parent`]).
    pub fn spawn(command: &mut Command) -> std::io::Result<Self> {
        Ok(Self {
            child: Some(dies_with_parent(command).spawn()?),
            terminated: false,
        })
    }

    /// Its process id, until it is reaped.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -9`, and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits up to `timeout` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.wait_until(Instant::now() + timeout)
    }

    /// Waits until `deadline` for the process to exit; its status if it did.
    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.exited() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// SIGTERM (unless sent already), then `kill -9` if it has not exited within `grace`.
    pub fn stop(&mut self, grace: Duration) {
        self.stop_by(Instant::now() + grace);
    }

    /// SIGTERM (unless sent already), then `kill -9` if it has not exited by `deadline`.
    fn stop_by(&mut self, deadline: Instant) {
        self.terminate();
        if self.wait_until(deadline).is_none() {
            self.kill9();
        }
    }

    /// SIGTERM (graceful stop), unless it was sent already or the process has exited.
    pub fn terminate(&mut self) {
        if self.terminated || self.exited().is_some() {
            return;
        }
        if let Some(child) = &self.child {
            let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
            // SAFETY: kill(2) touches no memory of ours. The child is not reaped yet (checked
            // just above; only this handle reaps it), so `pid` still names it.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            self.terminated = true;
        }
    }
}

/// Stops `processes` together: SIGTERM to each (unless sent already), then `kill -9` to those
/// still running `grace` after that — one grace for all, not one each.
pub fn stop_all<'a>(processes: impl IntoIterator<Item = &'a mut Process>, grace: Duration) {
    let mut processes: Vec<&mut Process> = processes.into_iter().collect();
    for process in &mut processes {
        process.terminate();
    }
    let deadline = Instant::now() + grace;
    for process in processes {
        process.stop_by(deadline);
    }
}

/// Makes the process `command` starts a process group of its own, so that the terminal's
/// signals (Ctrl-C's SIGINT, SIGHUP when it closes) reach only this process, which stops its
/// children its own way; and, on Linux, makes it get SIGKILL when the thread that started it
/// ends — with this process, however it ends (SIGKILL included). A long-lived process must be
/// started from a thread that lives as long as its handle: the main thread or an async
/// runtime's worker, not a short-lived thread (tokio's blocking pool ends idle threads).
/// Elsewhere than Linux a child is stopped only by its handle.
#[cfg(target_os = "linux")]
pub fn dies_with_parent(command: &mut Command) -> &mut Command {
    command.process_group(0);
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
    command.process_group(0)
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
        let stdout = parent.child.as_mut().unwrap().stdout.take().unwrap();
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

    /// A `sh` that records each SIGTERM in `record` (one `T` line) without exiting, and says
    /// once its trap is set (a `ready` line).
    fn term_recorder(record: &std::path::Path) -> Process {
        let script =
            r#"trap 'echo T >> "$F"' TERM; echo ready >> "$F"; while :; do sleep 0.05; done"#;
        let process =
            Process::spawn(Command::new("sh").args(["-c", script]).env("F", record)).unwrap();
        wait_for_lines(record, 1);
        process
    }

    /// Waits until `file` holds `count` lines.
    fn wait_for_lines(file: &std::path::Path, count: usize) {
        let started = Instant::now();
        while std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .count()
            < count
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no line {count}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_process_gets_one_sigterm_from_terminate_then_stop() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("signals");
        let mut process = term_recorder(&record);
        process.terminate();
        // The trap ran: a second SIGTERM now would be recorded apart from the first.
        wait_for_lines(&record, 2);
        process.stop(Duration::from_millis(500));
        assert!(process.id().is_none(), "killed after the grace");
        let lines = std::fs::read_to_string(&record).unwrap();
        assert_eq!(lines, "ready\nT\n", "one SIGTERM only");
    }

    #[test]
    fn stop_all_gives_every_process_one_grace_together() {
        let dir = tempfile::tempdir().unwrap();
        let mut processes: Vec<Process> = (0..3)
            .map(|i| term_recorder(&dir.path().join(format!("signals{i}"))))
            .collect();
        let grace = Duration::from_millis(800);
        let started = Instant::now();
        stop_all(&mut processes, grace);
        let took = started.elapsed();
        assert!(took >= grace, "{took:?}");
        assert!(took < 2 * grace, "one grace, not one each: {took:?}");
        for (i, process) in processes.iter().enumerate() {
            assert!(process.id().is_none(), "process {i} was killed");
            let lines = std::fs::read_to_string(dir.path().join(format!("signals{i}"))).unwrap();
            assert_eq!(lines, "ready\nT\n", "process {i}: one SIGTERM");
        }
    }

    #[test]
    fn a_child_has_a_process_group_of_its_own() {
        let process = Process::spawn(Command::new("sleep").arg("600")).unwrap();
        let pid = libc::pid_t::try_from(process.id().unwrap()).unwrap();
        // SAFETY: getpgid(2) reads no memory of ours.
        let group = unsafe { libc::getpgid(pid) };
        assert_eq!(group, pid, "its own group, not the test's");
        // SAFETY: as above.
        assert_ne!(group, unsafe { libc::getpgid(0) });
    }
}
