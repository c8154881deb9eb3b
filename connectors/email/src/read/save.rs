//! Files next to the records: the whole message as an `.eml` and each attachment, in
//! a directory, each named by the SHA-256 of its content (the same content is stored
//! once), written to a temporary name, synced and renamed, before the record that
//! names it is emitted: a message is committed only after its files are on disk.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::config::{SaveTo, SaveWhat};
use super::record::EmailRecord;

/// Writes what `save` asks for of `raw` (the message as received) and the attachments
/// the record lists (`attachments`: their bytes, in the record's order), and puts the
/// paths in the record. Returns why it could not.
pub(crate) fn store(
    save: &SaveTo,
    record: &mut EmailRecord<'_>,
    raw: &[u8],
    attachments: &[Vec<u8>],
) -> Result<(), String> {
    if matches!(save.what, SaveWhat::Eml | SaveWhat::Both) {
        record.eml_path = Some(file(&save.dir, raw, "eml")?);
    }
    if matches!(save.what, SaveWhat::Attachments | SaveWhat::Both) {
        for (a, bytes) in record.attachments.iter_mut().zip(attachments) {
            let ext = a
                .filename
                .as_deref()
                .and_then(|n| Path::new(n).extension())
                .and_then(|e| e.to_str())
                .filter(|e| {
                    !e.is_empty() && e.len() <= 16 && e.bytes().all(|b| b.is_ascii_alphanumeric())
                })
                .unwrap_or("bin")
                .to_ascii_lowercase();
            a.path = Some(file(&save.dir, bytes, &ext)?);
        }
    }
    Ok(())
}

/// Stores `bytes` as `<sha256>.<ext>` in `dir` unless it is there already; returns its
/// path.
fn file(dir: &Path, bytes: &[u8], ext: &str) -> Result<String, String> {
    let hash = Sha256::digest(bytes);
    let name: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{name}.{ext}"));
    let shown = || path.display().to_string();
    if path.metadata().is_ok_and(|m| m.len() == bytes.len() as u64) {
        return Ok(shown());
    }
    let fail = |doing: &str, e: std::io::Error| format!("cannot {doing} {}: {e}", shown());
    let tmp: PathBuf = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| fail("create a file for", e))?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| fail("write", e));
    drop(f);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail("rename a file to", e)
    })?;
    // The new name is durable once the directory is synced.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail("sync the directory of", e))?;
    Ok(shown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_content_and_written_once() {
        let dir = tempfile::tempdir().expect("dir");
        let a = file(dir.path(), b"hello", "txt").expect("stored");
        assert!(
            a.ends_with("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824.txt")
        );
        assert_eq!(std::fs::read(&a).expect("read"), b"hello");
        let again = file(dir.path(), b"hello", "txt").expect("stored");
        assert_eq!(a, again);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        let missing = file(&dir.path().join("nope"), b"x", "eml").expect_err("no such dir");
        assert!(missing.contains("cannot create"), "{missing}");
    }
}
