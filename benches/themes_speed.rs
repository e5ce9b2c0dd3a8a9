//! Benchmark: theme coding speed on one core, over a generated corpus.
//!
//! `cargo bench --bench themes_speed [-- POSTS]` (default 1,000,000). The corpus comes from
//! `../shared/bench/gen_corpus.py` (twarc2, seed 1), generated into `$WORK` (default
//! `/tmp/rethread-bench`) when missing. Reading the file is not timed: only coding every post's
//! text with the built-in codebook, on one thread. Numbers, not assertions.

use rethread::corpus::PostSet;
use rethread::source::ReadOptions;
use rethread::themes::{Codebook, Coder};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn main() {
    let posts: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let work =
        PathBuf::from(std::env::var("WORK").unwrap_or_else(|_| "/tmp/rethread-bench".into()));
    std::fs::create_dir_all(&work).unwrap();
    let file = work.join(format!("twarc2_{posts}.jsonl"));
    if !file.exists() {
        let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_corpus.py");
        assert!(
            gen.exists(),
            "{} not found: ../shared/bench is needed",
            gen.display()
        );
        let tmp = file.with_extension("tmp");
        let ok = Command::new("python3")
            .arg(&gen)
            .args([
                "--format",
                "twarc2",
                "--posts",
                &posts.to_string(),
                "--seed",
                "1",
                "--out",
            ])
            .arg(&tmp)
            .status()
            .expect("run gen_corpus.py")
            .success();
        assert!(ok, "gen_corpus.py failed");
        std::fs::rename(&tmp, &file).unwrap();
    }
    let (set, _) = PostSet::from_files(
        std::slice::from_ref(&file),
        &ReadOptions::default(),
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    let texts: Vec<&str> = set.posts().iter().map(|p| p.text()).collect();
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    let book = Codebook::default_codebook();
    let patterns: usize = book
        .themes
        .iter()
        .map(|t| t.patterns.len() + t.exclude.len())
        .sum();
    let coder = Coder::new(&book).unwrap();
    // Warm up, then time one pass on this thread only.
    for t in texts.iter().take(10_000) {
        std::hint::black_box(coder.code(t));
    }
    let start = Instant::now();
    let mut coded = 0usize;
    let mut codes = 0usize;
    for t in &texts {
        let ev = coder.code(t);
        coded += !ev.is_empty() as usize;
        codes += ev.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "themes_speed: {} posts ({:.0} MB of text) from {}, built-in codebook ({} themes, {} patterns)",
        texts.len(),
        bytes as f64 / 1e6,
        file.display(),
        book.themes.len(),
        patterns
    );
    println!(
        "  one core: {secs:.2} s, {:.0} posts/s, {:.0} MB/s",
        texts.len() as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    println!("  posts with a code: {coded}; codes: {codes}");
}
