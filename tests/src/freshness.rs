//! Whether a workspace binary is up to date: `cargo test -p e2e-tests` does not rebuild the
//! `oracle-node` and `localnet` binaries the tests run, so a test run after editing their
//! sources would otherwise test the old code. Cargo's dep-info file next to a binary
//! (`target/<profile>/<name>.d`) lists every source file it was built from; one of them under
//! the workspace that is newer than the binary means the binary is stale.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The newest of `binary`'s sources under `root` that is newer than the binary, if any. A
/// binary without a dep-info file, or whose dep-info names no file under `root` (one built
/// from another checkout), cannot be judged: `None`. Files it names that are gone are skipped.
pub fn newer_source(binary: &Path, root: &Path) -> std::io::Result<Option<PathBuf>> {
    let dep_info = binary.with_extension("d");
    let text = match std::fs::read_to_string(&dep_info) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let built = std::fs::metadata(binary)?.modified()?;
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for source in sources(&text).filter(|path| path.starts_with(root)) {
        let Ok(modified) = std::fs::metadata(&source).and_then(|m| m.modified()) else {
            continue;
        };
        if modified > built && newest.as_ref().is_none_or(|(time, _)| modified > *time) {
            newest = Some((modified, source));
        }
    }
    Ok(newest.map(|(_, path)| path))
}

/// The files a dep-info file's rules depend on (make syntax: `target: dep dep…`, a space in
/// a path escaped as `\ `).
fn sources(dep_info: &str) -> impl Iterator<Item = PathBuf> + '_ {
    dep_info
        .lines()
        .filter_map(|line| line.split_once(": ").map(|(_, deps)| deps))
        .flat_map(|deps| {
            let mut paths = Vec::new();
            let mut current = String::new();
            let mut chars = deps.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => current.extend(chars.next()),
                    ' ' => {
                        paths.extend((!current.is_empty()).then(|| std::mem::take(&mut current)))
                    }
                    c => current.push(c),
                }
            }
            paths.extend((!current.is_empty()).then_some(current));
            paths.into_iter().map(PathBuf::from)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A file at `path` last modified `age_secs` seconds ago.
    fn file_aged(path: &Path, age_secs: u64) {
        let file = std::fs::File::create(path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
            .unwrap();
    }

    #[test]
    fn a_source_edited_after_the_build_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("work space");
        std::fs::create_dir(&root).unwrap();
        let binary = root.join("node");
        let (old, edited, newest) = (root.join("old.rs"), root.join("a b.rs"), root.join("c.rs"));
        file_aged(&old, 100);
        file_aged(&binary, 50);
        file_aged(&edited, 20);
        file_aged(&newest, 10);
        let outside = dir.path().join("registry.rs");
        file_aged(&outside, 0);
        let escaped = |path: &Path| path.display().to_string().replace(' ', "\\ ");
        let dep_info = format!(
            "{}: {} {} {} {} {}\n",
            escaped(&binary),
            escaped(&old),
            escaped(&edited),
            escaped(&newest),
            escaped(&outside),
            escaped(&root.join("deleted.rs")),
        );
        std::fs::write(binary.with_extension("d"), &dep_info).unwrap();
        assert_eq!(newer_source(&binary, &root).unwrap(), Some(newest.clone()));

        // Rebuilt: up to date (the file outside the root does not count).
        file_aged(&binary, 0);
        assert_eq!(newer_source(&binary, &root).unwrap(), None);
    }

    #[test]
    fn a_binary_without_dep_info_cannot_be_judged() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("node");
        file_aged(&binary, 0);
        assert_eq!(newer_source(&binary, dir.path()).unwrap(), None);
    }
}
