//! Sentence embeddings per second with the Rust model (candle), on one thread and on all cores.
//!
//! `cargo bench --bench embed_speed` (release). The model is the one `rethread` would use
//! without a flag: RETHREAD_MODEL, else the Hugging Face cache. The texts are the lines of the
//! file EMBED_TEXTS names, else 500 generated tweet-length texts; EMBED_BATCH sets the batch
//! size (default: the one rethread uses). For each thread count it prints one line,
//!
//!     embeddings/s threads=N batch=B: X
//!
//! which bench/embed_speed.sh parses beside the onnxruntime figures: keep that format.
//!
//! Each thread count runs in a child process of its own with RAYON_NUM_THREADS=N, because
//! candle's matrix products and the tokenizer both size their thread pools from that variable
//! once, when first used; it is also how a user runs rethread on fewer cores.

use rethread::themes::embed::{locate, Embed, Embedder, BATCH_SIZE};
use std::process::Command;
use std::time::Instant;

const CHILD: &str = "EMBED_SPEED_THREADS";

fn main() {
    if let Ok(threads) = std::env::var(CHILD) {
        return measure(&threads);
    }
    let all = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut counts = vec![1];
    if all > 1 {
        counts.push(all);
    }
    for n in counts {
        let status = Command::new(std::env::current_exe().expect("own path"))
            .env(CHILD, n.to_string())
            .env("RAYON_NUM_THREADS", n.to_string())
            .status()
            .expect("run the measuring child");
        if !status.success() {
            std::process::exit(1);
        }
    }
}

fn measure(threads: &str) {
    let dir = match locate(None) {
        Ok(Some(found)) => found.dir,
        Ok(None) => {
            eprintln!("embed_speed: no model: set RETHREAD_MODEL to a model folder");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("embed_speed: {e:#}");
            std::process::exit(1);
        }
    };
    let batch = std::env::var("EMBED_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(BATCH_SIZE);
    let model = Embedder::load(&dir)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .with_batch_size(batch);
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    // One warm-up batch: first-touch page faults and thread-pool start-up are not throughput.
    model.embed(&refs[..refs.len().min(batch)]).unwrap();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let vectors = model.embed(&refs).unwrap();
        best = best.min(start.elapsed().as_secs_f64());
        assert_eq!(vectors.len(), refs.len());
    }
    eprintln!("{} texts, {}, best of 3", refs.len(), model.id());
    println!(
        "embeddings/s threads={threads} batch={batch}: {:.1}",
        refs.len() as f64 / best
    );
}

/// EMBED_TEXTS's lines, or 500 texts shaped like customer-service tweets (5 to 40 words),
/// the same on every run.
fn texts() -> Vec<String> {
    if let Ok(path) = std::env::var("EMBED_TEXTS") {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        return text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
    }
    const WORDS: &[&str] = &[
        "my", "order", "never", "arrived", "and", "the", "app", "keeps", "crashing", "please",
        "help", "refund", "flight", "delayed", "again", "customer", "service", "is", "useless",
        "thanks", "for", "quick", "reply", "waiting", "two", "hours", "on", "hold", "package",
        "broken", "charged", "twice", "account", "locked", "password", "reset", "doesn't", "work",
        "DM", "us", "your", "number", "we'll", "look", "into", "it", "sorry", "😡", "🙏",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..500)
        .map(|_| {
            let n = 5 + (next() % 36) as usize;
            (0..n)
                .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
