//! Defect 1 of issue 11: exports followed a symbolic link planted in the output directory and
//! overwrote its target (`export markdown`, `html` and `convokit` opened each output path for
//! writing; the single-file exports opened `FILE.partial` the same way). In a shared directory
//! another user could make rethread overwrite any file the researcher can write. Every output
//! file is now made under a new name beside its target and renamed into place, which replaces a
//! link instead of following it. Each format is tested with a link planted at each output path
//! (and at `FILE.partial`), pointing at a "victim" file outside the output directory.
#![cfg(unix)]

use crate::common::{fixture, ok};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const VICTIM: &str = "the researcher's own file: must survive\n";

/// The seed conversation from two platforms, so that directory exports write several files.
fn inputs() -> Vec<String> {
    ["seed002/twarc2.jsonl", "seed002/mastodon.jsonl"]
        .iter()
        .map(|f| fixture(f).to_str().unwrap().to_string())
        .collect()
}

/// Run `rethread ARGS... --out OUT` in `dir` (or with `--db` for twarc2) and insist on success.
fn export(dir: &Path, args: &[&str], out: &Path) {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if args[..2] != ["export", "twarc2"] {
        all.push("--input".into());
        all.extend(inputs());
    }
    all.push("--out".into());
    all.push(out.to_str().unwrap().into());
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    ok(dir, &all);
}

/// Every file under `dir` (not following links) with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            assert!(
                meta.is_file(),
                "{name} in {} is not a regular file: {:?}",
                dir.display(),
                meta.file_type()
            );
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// A victim file outside the output directory per planted link, and the links.
struct Planted {
    victims: Vec<PathBuf>,
}

impl Planted {
    fn new() -> Self {
        Planted {
            victims: Vec::new(),
        }
    }

    /// Plant a link at `at` pointing to a new victim file in `victims_dir`.
    fn plant(&mut self, victims_dir: &Path, at: &Path) {
        let victim = victims_dir.join(format!("victim-{}", self.victims.len()));
        std::fs::write(&victim, VICTIM).unwrap();
        std::os::unix::fs::symlink(&victim, at).unwrap();
        self.victims.push(victim);
    }

    fn assert_untouched(&self, what: &str) {
        for v in &self.victims {
            let now = std::fs::read_to_string(v).unwrap();
            assert!(
                now == VICTIM,
                "{what}: {} was written through a planted link ({} bytes now)",
                v.display(),
                now.len()
            );
        }
    }
}

/// A directory export: learn its file names from a clean run, plant a link at each (and at
/// each `NAME.partial`) in a second directory, export there, and compare.
fn directory_export(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let victims = d.join("victims");
    std::fs::create_dir(&victims).unwrap();
    let clean = d.join("clean");
    export(d, args, &clean);
    let expected = files(&clean);
    assert!(expected.len() >= 2, "{args:?} wrote {:?}", expected.keys());
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let mut planted = Planted::new();
    for name in expected.keys() {
        planted.plant(&victims, &out.join(name));
        planted.plant(&victims, &out.join(format!("{name}.partial")));
    }
    export(d, args, &out);
    planted.assert_untouched(&args.join(" "));
    // The links planted at NAME.partial are still links (nothing had a reason to touch them);
    // once they are gone, the directory holds exactly the clean run's files, each a regular
    // file: no link and no temporary file left.
    for name in expected.keys() {
        let partial = out.join(format!("{name}.partial"));
        assert!(std::fs::symlink_metadata(&partial)
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_file(partial).unwrap();
    }
    assert_eq!(
        files(&out),
        expected,
        "{args:?}: the files written through links"
    );
}

/// A single-file export: plant links at `FILE` and `FILE.partial`, export, and compare with a
/// clean run.
fn file_export(d: &Path, args: &[&str], name: &str) {
    let victims = d.join(format!("victims-{name}"));
    std::fs::create_dir(&victims).unwrap();
    let clean = d.join(format!("clean-{name}"));
    export(d, args, &clean);
    let expected = std::fs::read(&clean).unwrap();
    assert!(!expected.is_empty(), "{args:?}");
    let out_dir = d.join(format!("out-{name}"));
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join(name);
    let mut planted = Planted::new();
    planted.plant(&victims, &out);
    planted.plant(&victims, &out_dir.join(format!("{name}.partial")));
    export(d, args, &out);
    planted.assert_untouched(&args.join(" "));
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(
        meta.is_file(),
        "{args:?}: {} is {:?}",
        out.display(),
        meta.file_type()
    );
    assert_eq!(std::fs::read(&out).unwrap(), expected, "{args:?}");
    // Nothing else was left in the directory but the link planted at FILE.partial.
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{args:?} left {names:?}");
}

#[test]
fn markdown_replaces_planted_links() {
    directory_export(&["export", "markdown"]);
}

#[test]
fn markdown_tree_replaces_planted_links() {
    directory_export(&["export", "markdown", "--layout", "tree", "--themes"]);
}

#[test]
fn html_replaces_planted_links() {
    directory_export(&["export", "html"]);
}

#[test]
fn convokit_replaces_planted_links() {
    directory_export(&["export", "convokit"]);
}

#[test]
fn csv_replaces_planted_links() {
    directory_export(&["export", "csv"]);
}

#[test]
fn single_file_exports_replace_planted_links() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (format, name) in [
        ("jsonl", "posts.jsonl"),
        ("gexf", "threads.gexf"),
        ("graphml", "threads.graphml"),
        ("dot", "threads.dot"),
    ] {
        file_export(d, &["export", format], name);
    }
    file_export(d, &["themes", "discover"], "draft.toml");
    // twarc2 reads a corpus.
    let input = fixture("seed002/twarc2.jsonl");
    ok(d, &["import", input.to_str().unwrap()]);
    file_export(d, &["export", "twarc2"], "tweets.jsonl");
}

/// A link the researcher names as `--out` is followed, as asked: the files land in the
/// directory it points to, as regular files.
#[test]
fn an_out_directory_given_as_a_link_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let real = d.join("real");
    std::fs::create_dir(&real).unwrap();
    let link = d.join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    export(d, &["export", "markdown"], &link);
    let written = files(&real);
    assert!(written.contains_key("index.md"), "{:?}", written.keys());
}
