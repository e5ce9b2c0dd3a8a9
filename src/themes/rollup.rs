//! Coding a whole corpus: every post's codes with evidence, and per thread and per branch (each
//! subtree under the root's direct replies) what was raised, how widely, by whom first, with
//! quotes, which themes came together, and how many posts got no code.

use super::codebook::{Coder, Evidence};
use crate::corpus::PostSet;
use crate::thread::{Node, Thread, Threads};
use petgraph::graph::NodeIndex;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// At most this many quotes per theme in a rollup.
const QUOTES: usize = 3;
/// Quotes longer than this are cut (at a character boundary) and end with `…`.
const QUOTE_CHARS: usize = 400;

/// Every post's codes, and the rollups of every thread.
pub struct Coding {
    /// Indexed like `PostSet::posts()`.
    pub posts: Vec<Vec<Evidence>>,
    pub threads: Vec<ThreadCoding>,
}

/// One theme within a set of posts (a thread, a branch, the corpus).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThemeRollup {
    /// Index into the codebook's themes.
    #[serde(skip)]
    pub theme: usize,
    pub posts: usize,
    /// `posts` over the posts of the set.
    pub share: f64,
    pub authors: usize,
    /// The earliest post with the theme.
    pub first: Raiser,
    pub quotes: Vec<Quote>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Raiser {
    pub post: String,
    pub author: String,
    /// Depth of that post in the thread (the root is 0).
    pub depth: usize,
    pub at: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Quote {
    pub post: String,
    pub author: String,
    /// The post's text (cut to 400 characters).
    pub text: String,
    /// What matched, as written.
    pub evidence: Vec<String>,
}

/// The themes of a set of posts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rollup {
    pub posts: usize,
    pub uncoded: usize,
    pub themes: Vec<ThemeRollup>,
    /// Pairs of themes raised in the same post, with how many posts: `(a, b, n)`, `a < b`.
    #[serde(skip)]
    pub together: Vec<(usize, usize, usize)>,
}

pub struct ThreadCoding {
    /// Index into `Threads::threads`.
    pub thread: usize,
    pub rollup: Rollup,
    /// For each direct reply to the root: its post id and the rollup of its subtree.
    pub branches: Vec<(String, Rollup)>,
}

/// A coder beyond the codebook's patterns (the semantic coder, a learned classifier): given a
/// post's index in the `PostSet` and its plain text, the codes it gives, with evidence.
///
/// It is handed the index, not only the text, because model coders look the post's vectors up
/// by position: they are computed once for the whole set before coding starts.
pub trait PostCoder: Sync {
    fn code(&self, index: usize, text: &str) -> Vec<Evidence>;
}

/// Code every post (in parallel) and roll the codes up per thread and per branch.
pub fn code_corpus(set: &PostSet, threads: &Threads, coder: &Coder) -> Coding {
    code_corpus_with(set, threads, coder, &[])
}

/// `code_corpus` with more coders: each post's codes are the patterns' evidence followed by
/// each extra coder's, in the order given.
pub fn code_corpus_with(
    set: &PostSet,
    threads: &Threads,
    coder: &Coder,
    extra: &[&dyn PostCoder],
) -> Coding {
    let posts = code_posts_with(set, coder, extra);
    let threads = rollup_threads(set, threads, &posts);
    Coding { posts, threads }
}

/// The rollups of every thread (in parallel), from each post's codes.
pub fn rollup_threads(
    set: &PostSet,
    threads: &Threads,
    codes: &[Vec<Evidence>],
) -> Vec<ThreadCoding> {
    threads
        .threads
        .par_iter()
        .enumerate()
        .map(|(ti, t)| thread_coding(ti, t, set, threads, codes))
        .collect()
}

/// Every post's codes (in parallel), without the rollups: what the exports need, since each
/// rolls up only the threads it writes, when it writes them. Rolling up every thread and branch
/// here too would cost a second pass and hold every rollup's quotes at once.
pub fn code_posts_with(
    set: &PostSet,
    coder: &Coder,
    extra: &[&dyn PostCoder],
) -> Vec<Vec<Evidence>> {
    set.posts()
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut ev = coder.code(p.text());
            for c in extra {
                ev.extend(c.code(i, p.text()));
            }
            ev
        })
        .collect()
}

/// The rollup of thread `ti` and of each of its branches, from each post's codes.
pub fn thread_coding(
    ti: usize,
    t: &Thread,
    set: &PostSet,
    threads: &Threads,
    codes: &[Vec<Evidence>],
) -> ThreadCoding {
    let whole = rollup(&t.nodes, set, threads, codes);
    let mut branches = Vec::new();
    for &child in threads.children(t.root) {
        let Node::Post(i) = threads.node(child) else {
            continue;
        };
        // The subtree under this reply, walked with a stack (threads can be deep).
        let mut nodes = Vec::new();
        let mut stack = vec![child];
        while let Some(n) = stack.pop() {
            nodes.push(n);
            stack.extend(threads.children(n).iter().copied());
        }
        branches.push((
            set.posts()[i].id().to_string(),
            rollup(&nodes, set, threads, codes),
        ));
    }
    ThreadCoding {
        thread: ti,
        rollup: whole,
        branches,
    }
}

/// The rollup of a set of graph nodes (gaps are skipped).
pub fn rollup(
    nodes: &[NodeIndex],
    set: &PostSet,
    threads: &Threads,
    codes: &[Vec<Evidence>],
) -> Rollup {
    let mut posts: Vec<(NodeIndex, usize)> = nodes
        .iter()
        .filter_map(|&n| match threads.node(n) {
            Node::Post(i) => Some((n, i)),
            Node::Gap(_) => None,
        })
        .collect();
    // Time order, so that "first" and the quotes follow the conversation.
    posts.sort_by(|a, b| crate::thread::cmp_posts(&set.posts()[a.1], &set.posts()[b.1]));
    let mut per_theme: BTreeMap<usize, Tally> = BTreeMap::new();
    let mut together: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut uncoded = 0;
    for &(n, i) in &posts {
        let ev = &codes[i];
        if ev.is_empty() {
            uncoded += 1;
            continue;
        }
        let p = &set.posts()[i];
        let author = p.author().label().to_string();
        let mut themes: Vec<usize> = ev.iter().map(|e| e.theme).collect();
        themes.sort_unstable();
        themes.dedup();
        for (k, &a) in themes.iter().enumerate() {
            for &b in &themes[k + 1..] {
                *together.entry((a, b)).or_default() += 1;
            }
        }
        for &th in &themes {
            let entry = per_theme.entry(th).or_default();
            entry.posts += 1;
            entry.authors.insert(author.clone());
            if entry.first.is_none() {
                entry.first = Some(Raiser {
                    post: p.id().to_string(),
                    author: author.clone(),
                    depth: threads.depth(n),
                    at: p.created_at().map(|t| crate::model::format_time(&t)),
                });
            }
            if entry.quotes.len() < QUOTES {
                entry.quotes.push(Quote {
                    post: p.id().to_string(),
                    author: author.clone(),
                    text: cut(p.text()),
                    evidence: ev
                        .iter()
                        .filter(|e| e.theme == th)
                        .map(|e| e.text.clone())
                        .collect(),
                });
            }
        }
    }
    let total = posts.len();
    Rollup {
        posts: total,
        uncoded,
        themes: per_theme
            .into_iter()
            .map(|(theme, t)| ThemeRollup {
                theme,
                posts: t.posts,
                share: if total == 0 {
                    0.0
                } else {
                    t.posts as f64 / total as f64
                },
                authors: t.authors.len(),
                first: t.first.expect("a theme with posts has a first post"),
                quotes: t.quotes,
            })
            .collect(),
        together: together.into_iter().map(|((a, b), n)| (a, b, n)).collect(),
    }
}

/// One theme's running totals while a rollup is made.
#[derive(Default)]
struct Tally {
    posts: usize,
    authors: HashSet<String>,
    first: Option<Raiser>,
    quotes: Vec<Quote>,
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ReadOptions;
    use crate::themes::Codebook;

    /// The seed 002 exchange, coded with the built-in codebook, the way a reader would.
    #[test]
    fn the_seed_exchange_is_coded_as_a_reader_would() {
        let fixture =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seed002/twarc2.jsonl");
        let (set, _) = PostSet::from_files(
            &[fixture],
            &ReadOptions::default(),
            &indicatif::ProgressBar::hidden(),
        )
        .unwrap();
        let threads = crate::thread::build(&set, &crate::thread::Options { quotes: false });
        let book = Codebook::default_codebook();
        let coder = Coder::new(&book).unwrap();
        let coding = code_corpus(&set, &threads, &coder);
        let themes_of = |needle: &str| -> Vec<&str> {
            let i = (0..set.len())
                .find(|&i| set.posts()[i].text().contains(needle))
                .unwrap_or_else(|| panic!("no post says {needle:?}"));
            let mut ids: Vec<&str> = Vec::new();
            for e in &coding.posts[i] {
                let id = book.themes[e.theme].id.as_str();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            ids
        };
        assert_eq!(themes_of("overdesigned"), ["rigid-systems"]);
        assert_eq!(
            themes_of("rigid and inflexible rules"),
            ["rigid-systems", "consistency"]
        );
        assert_eq!(
            themes_of("empowering (and TRUSTING)"),
            ["empowerment-trust", "training-knowledge"]
        );
        assert_eq!(
            themes_of("seperation from the customer"),
            ["scale-separation"]
        );
        assert_eq!(themes_of("anonymity"), ["scale-separation"]);
        assert_eq!(themes_of("design for “the average”"), ["rigid-systems"]);
        assert_eq!(themes_of("how we’d like it"), ["customer-shoes"]);
        assert_eq!(themes_of("would “you” put up with it"), ["customer-shoes"]);
        assert_eq!(themes_of("tweet about training"), ["training-knowledge"]);
        assert_eq!(themes_of("lesson plans"), ["training-knowledge"]);
        assert_eq!(themes_of("turn a profit"), ["cost-or-investment"]);
        assert_eq!(themes_of("under-designed"), ["rigid-systems"]);
        assert_eq!(
            themes_of("lack of flexibility"),
            ["rigid-systems", "empowerment-trust"]
        );
        for plain in [
            "can you elaborate",
            "IME = In My Estimation",
            "doing it well, that is",
            "perennial problem",
        ] {
            assert!(themes_of(plain).is_empty(), "{plain:?} raises no theme");
        }

        // The thread's rollup: who raised what first, and where.
        assert_eq!(coding.threads.len(), 1);
        let r = &coding.threads[0].rollup;
        assert_eq!((r.posts, r.uncoded), (17, 4));
        let rigid = r
            .themes
            .iter()
            .find(|t| book.themes[t.theme].id == "rigid-systems")
            .unwrap();
        assert_eq!(rigid.posts, 5);
        assert_eq!(rigid.first.author, "Gripnostril");
        assert_eq!(rigid.first.depth, 2);
        assert_eq!(rigid.quotes.len(), 3);
        assert_eq!(rigid.quotes[0].evidence, ["design for “the average"]);
        let training = r
            .themes
            .iter()
            .find(|t| book.themes[t.theme].id == "training-knowledge")
            .unwrap();
        assert_eq!(
            training.quotes[0].evidence,
            ["training"],
            "one piece of evidence per span"
        );
        assert!(r.together.iter().any(|&(a, b, n)| {
            book.themes[a].id == "empowerment-trust"
                && book.themes[b].id == "training-knowledge"
                && n == 1
        }));
        // One branch: the root has one direct reply, under which the other 16 posts sit.
        let branches = &coding.threads[0].branches;
        assert_eq!(branches.len(), 1);
        assert_eq!(branches[0].1.posts, 16);
    }
}
