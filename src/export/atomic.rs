//! Writing an output file without ever writing through what is already at its path.
//!
//! Exports write into directories that are often shared (a project folder, a lab server's
//! scratch space). Opening the target itself for writing (`File::create`, `fs::write`: `O_CREAT |
//! O_TRUNC`) follows a symbolic link someone planted there and truncates the link's target, so
//! another user could make rethread overwrite any file the researcher can write. So every output
//! file is written the same way, by [`write`] or [`write_bytes`]:
//!
//! 1. the content goes into a new file in the target's directory: on Linux an unnamed one
//!    (`O_TMPFILE`), elsewhere (or where the file system cannot) one under a fresh random name,
//!    opened with `OpenOptions::create_new` (`O_CREAT | O_EXCL`), which fails on any existing
//!    path, a link included, and never follows one;
//! 2. it is written whole and (for [`Durability::Synced`]) flushed to disk;
//! 3. it gets the target's name. An unnamed file is linked in with `linkat`, which also fails
//!    on anything already there and never follows a link; when something is there (an earlier
//!    export's file, or a planted link), the file is linked under a temporary name instead and
//!    renamed onto the target. `rename` replaces the directory entry: a link at the target is
//!    replaced itself, and whatever it pointed to is left alone.
//!
//! On any error the temporary name is removed, so a failed export leaves nothing half-written
//! under any name. The target only ever holds a complete file, the old one or the new one: a
//! killed run never leaves a truncated file under the name a script expects (at worst, on the
//! rename path, a `NAME.XXXXXXXXXXXXXXXX.partial` beside it).
//!
//! Why not create the target directly when nothing is there yet (a fresh directory), as a
//! fast path? Because a run killed in the middle of a write would then leave a truncated
//! transcript under its real name, indistinguishable from a complete one. The unnamed file
//! costs little more than that (see `Staged::new`) and has no name until it is complete.
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

/// Write `path` with `write` into a new file beside it, then give it its name (see the
/// module's documentation for why). On error nothing is left behind and `path` is unchanged.
pub fn write(
    path: &Path,
    durability: Durability,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let Staged { file, temp } = Staged::new(path)?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    match write(&mut out).and_then(|()| Ok(out.into_inner().map_err(|e| e.into_error())?)) {
        Ok(file) => Staged { file, temp }.publish(path, durability),
        Err(e) => {
            discard(temp.as_deref());
            Err(e).with_context(|| format!("{}: write failed", path.display()))
        }
    }
}

/// [`write`] for content already in memory.
pub fn write_bytes(path: &Path, durability: Durability, bytes: &[u8]) -> Result<()> {
    let mut staged = Staged::new(path)?;
    if let Err(e) = staged.file.write_all(bytes) {
        discard(staged.temp.as_deref());
        return Err(e).with_context(|| format!("{}: write failed", path.display()));
    }
    staged.publish(path, durability)
}

/// A file being written for `path`: unnamed (`O_TMPFILE`, Linux) or under a temporary name.
struct Staged {
    file: File,
    /// The temporary name, or `None` for an unnamed file.
    temp: Option<PathBuf>,
}

impl Staged {
    /// On Linux, an unnamed file in `path`'s directory (`O_TMPFILE`): it gets a name only once
    /// it is complete, so no name is ever created, renamed or left behind for it, and a killed
    /// run leaves nothing at all. That is also the fast path: on `export markdown` of 31,692
    /// transcripts, a temporary name renamed per file took about 75% more kernel time than
    /// writing the targets directly, an unnamed file about 25% more (see the README's note on
    /// how exports write). Elsewhere, or where the file system has no `O_TMPFILE`, a new file
    /// under a temporary name.
    fn new(path: &Path) -> Result<Staged> {
        #[cfg(target_os = "linux")]
        if let Some(file) = linux::unnamed_in(&dir_of(path)) {
            return Ok(Staged { file, temp: None });
        }
        let (temp, file) = create_beside(path)?;
        Ok(Staged {
            file,
            temp: Some(temp),
        })
    }

    /// Give the complete file the name `path`, replacing whatever is there (a link itself,
    /// never its target).
    fn publish(self, path: &Path, durability: Durability) -> Result<()> {
        if durability == Durability::Synced {
            if let Err(e) = self.file.sync_all() {
                discard(self.temp.as_deref());
                return Err(e).with_context(|| format!("{}: write failed", path.display()));
            }
        }
        let temp = match self.temp {
            Some(temp) => temp,
            None => {
                #[cfg(target_os = "linux")]
                match linux::name_unnamed(&self.file, path) {
                    // The usual case in a fresh directory: named in one step.
                    Ok(()) => return Ok(()),
                    // Something is at `path` (an earlier export's file, or a planted link):
                    // name the file beside it, then rename over it.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        link_beside(&self.file, path)?
                    }
                    // No /proc to name it through: copy it to a temporary name.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        copy_beside(self.file, path)?
                    }
                    Err(e) => {
                        return Err(e).with_context(|| format!("{}: cannot create", path.display()))
                    }
                }
                #[cfg(not(target_os = "linux"))]
                unreachable!("unnamed files are made on Linux only")
            }
        };
        std::fs::rename(&temp, path).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            anyhow::Error::new(e).context(format!("{}: cannot move into place", path.display()))
        })
    }
}

/// Give up on a staged file: remove its temporary name, if it has one (an unnamed file
/// vanishes when closed).
fn discard(temp: Option<&Path>) {
    if let Some(temp) = temp {
        let _ = std::fs::remove_file(temp);
    }
}

/// The directory a file `path` goes in (`.` for a bare file name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A fresh temporary name beside `path`: `NAME.XXXXXXXXXXXXXXXX.partial`. The middle part is
/// random (std's per-process random hash keys), so another user cannot guess it in advance.
fn temp_name(path: &Path, attempt: u64) -> Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(attempt);
    h.write_u32(std::process::id());
    let mut temp = name.to_owned();
    temp.push(format!(".{:016x}.partial", h.finish()));
    Ok(path.with_file_name(temp))
}

/// Make a temporary name beside `path` with `make`, which must fail with `AlreadyExists` when
/// the name is taken (then another is tried).
fn beside<T>(
    path: &Path,
    mut make: impl FnMut(&Path) -> std::io::Result<T>,
) -> Result<(PathBuf, T)> {
    let mut last = None;
    for attempt in 0..16u64 {
        let temp = temp_name(path, attempt)?;
        match make(&temp) {
            Ok(t) => return Ok((temp, t)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e).with_context(|| format!("{}: cannot create", temp.display())),
        }
    }
    Err(last.expect("16 attempts were made")).with_context(|| {
        format!(
            "{}: cannot create a temporary file beside it",
            path.display()
        )
    })
}

/// A new file under a temporary name beside `path`, created exclusively (`create_new`: fails on
/// anything already there, a link included, and never follows one).
fn create_beside(path: &Path) -> Result<(PathBuf, File)> {
    beside(path, |temp| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(temp)
    })
}

/// Name the unnamed `file` under a temporary name beside `path` (`linkat` fails on anything
/// already there and never follows a link).
#[cfg(target_os = "linux")]
fn link_beside(file: &File, path: &Path) -> Result<PathBuf> {
    Ok(beside(path, |temp| linux::name_unnamed(file, temp))?.0)
}

/// Copy the unnamed `file` to a new file under a temporary name beside `path`.
#[cfg(target_os = "linux")]
fn copy_beside(mut file: File, path: &Path) -> Result<PathBuf> {
    use std::io::Seek;
    let (temp, mut copy) = create_beside(path)?;
    let copied = file
        .seek(std::io::SeekFrom::Start(0))
        .and_then(|_| std::io::copy(&mut file, &mut copy))
        .and_then(|_| copy.sync_all());
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&temp);
        return Err(e).with_context(|| format!("{}: write failed", temp.display()));
    }
    Ok(temp)
}

#[cfg(target_os = "linux")]
mod linux {
    use rustix::fs::{linkat, openat, AtFlags, Mode, OFlags, CWD};
    use std::fs::File;
    use std::path::Path;

    /// An unnamed file in `dir` to read and write, or `None` where the kernel or the file
    /// system cannot make one (the caller then uses a temporary name).
    pub fn unnamed_in(dir: &Path) -> Option<File> {
        openat(
            CWD,
            dir,
            OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )
        .ok()
        .map(File::from)
    }

    /// Give the unnamed `file` the name `to`. `linkat` never follows a link at `to`, and fails
    /// with `AlreadyExists` when anything is there. The file is reached through its
    /// `/proc/self/fd` entry (`AT_EMPTY_PATH` would need a privilege on older kernels).
    pub fn name_unnamed(file: &File, to: &Path) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let from = format!("/proc/self/fd/{}", file.as_raw_fd());
        linkat(CWD, from.as_str(), CWD, to, AtFlags::SYMLINK_FOLLOW)?;
        Ok(())
    }
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

    /// The path taken where there are no unnamed files (not Linux, or a file system without
    /// `O_TMPFILE`): a named temporary file, renamed over the planted link.
    #[cfg(unix)]
    #[test]
    fn the_temporary_name_path_replaces_a_planted_link_too() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let target = dir.path().join("out.jsonl");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        let (temp, mut file) = create_beside(&target).unwrap();
        file.write_all(b"new").unwrap();
        Staged {
            file,
            temp: Some(temp),
        }
        .publish(&target, Durability::Synced)
        .unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }

    /// Without /proc an unnamed file is copied to a temporary name, then renamed.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_unnamed_file_can_be_copied_to_a_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.md");
        let Some(mut file) = linux::unnamed_in(dir.path()) else {
            eprintln!("skipped: this file system makes no unnamed files");
            return;
        };
        file.write_all(b"content").unwrap();
        let temp = copy_beside(file, &target).unwrap();
        std::fs::rename(&temp, &target).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "content");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
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
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
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
