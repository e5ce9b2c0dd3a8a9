//! Writing an output file without ever writing through what is already at its path.
//!
//! Exports write into directories that are often shared (a project folder, a lab server's
//! scratch space). Opening the target itself for writing (`File::create`, `fs::write`: `O_CREAT |
//! O_TRUNC`) follows a symbolic link someone planted there and truncates the link's target, so
//! another user could make rethread overwrite any file the researcher can write. So every output
//! file is written the same way, by [`write`] or [`write_bytes`]:
//!
//! 1. a new file is made beside the target under a fresh name, opened with
//!    `OpenOptions::create_new` (`O_CREAT | O_EXCL`), which fails on any existing path, a link
//!    included, and never follows one: nothing planted under the temporary name is written;
//! 2. the content is written into it, and (for [`Durability::Synced`]) flushed to disk;
//! 3. it is renamed onto the target. `rename` replaces the directory entry: a link at the target
//!    is replaced itself, and whatever it pointed to is left alone.
//!
//! On any error the temporary file is removed, so a failed export leaves nothing half-written
//! under any name. A killed run can leave a temporary file (its name ends in `.partial`), but
//! never a truncated file under the name a script expects: the target only ever holds a
//! complete file, the old one or the new one.
//!
//! Why not a fast path that creates the target directly when nothing is there yet (a fresh
//! directory)? Because then a run killed in the middle of a write leaves a truncated transcript
//! under its real name, indistinguishable from a complete one. Every file takes the safe path.
//!
//! The output directory itself is not checked: a link the researcher named as `--out` is
//! followed, as they asked. Only links *inside* it are never written through.

use anyhow::{Context, Result};
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// How hard to try to get a file onto the disk before it takes its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flushed to disk (`fsync`) before the rename: after a power cut the target holds the old
    /// file or the whole new one. For single-file exports, where one fsync is cheap.
    Synced,
    /// Not flushed: a killed process still leaves the old file or the whole new one (the
    /// kernel has the data), but a power cut right after may not. For exports of many small
    /// files (a transcript per thread), where an fsync each would cost more than the export.
    Unsynced,
}

/// Write `path` with `write` into a new file beside it, then rename it into place (see the
/// module's documentation for why). On error nothing is left behind and `path` is unchanged.
pub fn write(
    path: &Path,
    durability: Durability,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let (tmp, file) = create_beside(path)?;
    let done = (|| -> Result<()> {
        let mut out = BufWriter::with_capacity(1 << 16, file);
        write(&mut out).with_context(|| format!("{}: write failed", tmp.display()))?;
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("{}: write failed", tmp.display()))?;
        if durability == Durability::Synced {
            file.sync_all()
                .with_context(|| format!("{}: write failed", tmp.display()))?;
        }
        drop(file);
        std::fs::rename(&tmp, path)
            .with_context(|| format!("{}: cannot move into place", path.display()))
    })();
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// [`write`] for content already in memory.
pub fn write_bytes(path: &Path, durability: Durability, bytes: &[u8]) -> Result<()> {
    let (tmp, mut file) = create_beside(path)?;
    let done = (|| -> Result<()> {
        file.write_all(bytes)
            .with_context(|| format!("{}: write failed", tmp.display()))?;
        if durability == Durability::Synced {
            file.sync_all()
                .with_context(|| format!("{}: write failed", tmp.display()))?;
        }
        drop(file);
        std::fs::rename(&tmp, path)
            .with_context(|| format!("{}: cannot move into place", path.display()))
    })();
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// A new file in `path`'s directory named `NAME.XXXXXXXXXXXXXXXX.partial`, created exclusively.
/// The middle part is random (std's per-process random hash keys), so another user cannot
/// guess it in advance; if the name is taken anyway, another is tried.
fn create_beside(path: &Path) -> Result<(PathBuf, File)> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let mut last = None;
    for attempt in 0..16u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(attempt);
        h.write_u32(std::process::id());
        let mut tmp_name = name.to_owned();
        tmp_name.push(format!(".{:016x}.partial", h.finish()));
        let tmp = path.with_file_name(tmp_name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e).with_context(|| format!("{}: cannot create", tmp.display())),
        }
    }
    Err(last.expect("16 attempts were made"))
        .with_context(|| format!("{}: cannot create a temporary file beside it", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".partial"))
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let target = out.join("a.md");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_bytes(&target, Durability::Unsynced, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(leftovers(&out).is_empty());
    }

    #[test]
    fn a_failed_write_leaves_nothing_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.jsonl");
        std::fs::write(&target, "old").unwrap();
        let r = write(&target, Durability::Synced, |w| {
            w.write_all(b"half")?;
            anyhow::bail!("boom")
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
    }

    #[test]
    fn a_directory_in_the_way_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("index.md");
        std::fs::create_dir(&target).unwrap();
        assert!(write_bytes(&target, Durability::Unsynced, b"x").is_err());
        assert!(target.is_dir());
        assert!(leftovers(dir.path()).is_empty());
    }
}
