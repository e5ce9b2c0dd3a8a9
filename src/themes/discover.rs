//! Discovery: candidate themes nobody listed, from the posts no theme matched.
//!
//! The uncoded posts of each thread form one document; terms are word stems and pairs of
//! adjacent stems, stop words left out. Each term is scored by class-based TF-IDF (as in
//! BERTopic: a thread is a class): `tf(t, c) × ln(1 + A / f(t))`, where `A` is the mean number
//! of terms per thread and `f(t)` the term's frequency over all threads, summed over the threads
//! where it occurs, and weighted by ln(1 + distinct authors): what many people say counts more
//! than what a few accounts repeat. A term must recur in at least two threads: a theme is
//! something several conversations raise, not one person's pet word. A word that mostly occurs
//! inside one recurring pair is left to the pair, and the word after a greeting (a name) is
//! left out. Candidates are suggestions for a researcher
//! to read, name and edit, never codes.

use super::codebook::{Codebook, Meta, Theme};
use super::pattern::{tokenize, Token};
use crate::corpus::PostSet;
use crate::thread::{Node, Threads};
use rust_stemmers::{Algorithm, Stemmer};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One candidate theme.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Candidate {
    /// The words as most often written (lowercase).
    pub phrase: String,
    pub score: f64,
    /// Uncoded posts that contain it.
    pub posts: usize,
    pub threads: usize,
    pub authors: usize,
    /// Up to three posts: `(id, text)`.
    pub examples: Vec<(String, String)>,
}

const STOP: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "cannot",
    "could",
    "couldn",
    "did",
    "didn",
    "do",
    "does",
    "doesn",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "get",
    "got",
    "had",
    "hadn",
    "has",
    "hasn",
    "have",
    "haven",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "im",
    "in",
    "into",
    "is",
    "isn",
    "it",
    "its",
    "itself",
    "just",
    "ll",
    "me",
    "more",
    "most",
    "mustn",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "re",
    "s",
    "same",
    "shan",
    "she",
    "should",
    "shouldn",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "ve",
    "very",
    "was",
    "wasn",
    "we",
    "were",
    "weren",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "won",
    "would",
    "wouldn",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "d",
    "m",
    "y",
    "also",
    "still",
    "really",
    "one",
    "like",
    "amp",
    "rt",
    "via",
    "u",
    "ur",
    "thx",
    "pls",
    "please",
    "hi",
    "hey",
    "ok",
    "yes",
    "yeah",
    "oh",
    "lol",
    "dm",
    "us",
];

const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "thanks",
    "thank",
    "cheers",
    "morning",
    "evening",
    "afternoon",
];

/// Candidate themes from the posts whose `codes` are empty, best first, at most `top`.
pub fn discover(
    set: &PostSet,
    threads: &Threads,
    codes: &[Vec<super::codebook::Evidence>],
    top: usize,
) -> Vec<Candidate> {
    let stemmer = Stemmer::create(Algorithm::English);
    let stop: HashSet<&str> = STOP.iter().copied().collect();
    // Per thread: term → count. Per term: posts, threads, authors, surface forms, examples.
    let mut classes: Vec<HashMap<Vec<String>, usize>> = Vec::new();
    struct Seen {
        posts: usize,
        threads: HashSet<usize>,
        authors: HashSet<String>,
        forms: BTreeMap<String, usize>,
        examples: Vec<usize>,
    }
    let mut seen: HashMap<Vec<String>, Seen> = HashMap::new();
    for (ti, t) in threads.threads.iter().enumerate() {
        let mut class: HashMap<Vec<String>, usize> = HashMap::new();
        for &n in &t.nodes {
            let Node::Post(i) = threads.node(n) else {
                continue;
            };
            if !codes[i].is_empty() {
                continue;
            }
            let p = &set.posts()[i];
            let all: Vec<Token> = tokenize(p.text(), &stemmer);
            // The word after a greeting is nearly always a name ("Hi Chloé"): not a theme.
            let after_greeting: HashSet<usize> = all
                .windows(2)
                .filter(|w| GREETINGS.contains(&&*w[0].lower))
                .map(|w| w[1].start)
                .collect();
            let tokens: Vec<Token> = all
                .into_iter()
                .filter(|t| {
                    t.lower.chars().count() > 2
                        && !t.lower.chars().all(|c| c.is_numeric())
                        && !stop.contains(&*t.lower)
                        && !after_greeting.contains(&t.start)
                })
                .collect();
            let mut in_post: HashSet<Vec<String>> = HashSet::new();
            for (k, tok) in tokens.iter().enumerate() {
                let mut terms = vec![(vec![tok.stem.to_string()], tok.lower.to_string())];
                // A pair only when the two words were adjacent in the text (no stop word or
                // punctuation dropped between them would be a different phrase).
                if let Some(next) = tokens.get(k + 1) {
                    let between =
                        &p.text()[byte_of(p.text(), tok.end)..byte_of(p.text(), next.start)];
                    if between.chars().all(|c| c == ' ') {
                        terms.push((
                            vec![tok.stem.to_string(), next.stem.to_string()],
                            format!("{} {}", tok.lower, next.lower),
                        ));
                    }
                }
                for (term, form) in terms {
                    *class.entry(term.clone()).or_default() += 1;
                    let e = seen.entry(term.clone()).or_insert_with(|| Seen {
                        posts: 0,
                        threads: HashSet::new(),
                        authors: HashSet::new(),
                        forms: BTreeMap::new(),
                        examples: Vec::new(),
                    });
                    *e.forms.entry(form).or_default() += 1;
                    e.threads.insert(ti);
                    e.authors.insert(p.author().label().to_string());
                    if in_post.insert(term) {
                        e.posts += 1;
                        if e.examples.len() < 3 {
                            e.examples.push(i);
                        }
                    }
                }
            }
        }
        if !class.is_empty() {
            classes.push(class);
        }
    }
    if classes.is_empty() {
        return Vec::new();
    }
    let total_terms: usize = classes.iter().map(|c| c.values().sum::<usize>()).sum();
    let mean = total_terms as f64 / classes.len() as f64;
    let mut freq: HashMap<&Vec<String>, usize> = HashMap::new();
    for c in &classes {
        for (t, n) in c {
            *freq.entry(t).or_default() += n;
        }
    }
    let mut scores: HashMap<&Vec<String>, f64> = HashMap::new();
    for c in &classes {
        let size: usize = c.values().sum();
        for (t, &n) in c {
            let tf = n as f64 / size as f64;
            let idf = (1.0 + mean / freq[t] as f64).ln();
            *scores.entry(t).or_default() += tf * idf;
        }
    }
    // A word that mostly occurs inside one recurring pair is that pair, not a theme of its own.
    let mut covered: HashSet<&String> = HashSet::new();
    for (term, s) in &seen {
        if term.len() == 2 && s.threads.len() >= 2 {
            for w in term {
                if seen
                    .get(&vec![w.clone()])
                    .is_some_and(|single| single.posts <= s.posts * 2)
                {
                    covered.insert(w);
                }
            }
        }
    }
    // What many people say weighs more than what a few accounts repeat (scripted replies).
    let mut ranked: Vec<(&Vec<String>, f64)> = scores
        .into_iter()
        .filter(|(t, _)| seen[*t].threads.len() >= 2)
        .filter(|(t, _)| !(t.len() == 1 && covered.contains(&t[0])))
        .map(|(t, score)| (t, score * (1.0 + seen[t].authors.len() as f64).ln()))
        .collect();
    // Best score first; ties by the phrase, so that the order never depends on hashing.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut out: Vec<Candidate> = Vec::new();
    for (term, score) in ranked {
        if out.len() >= top {
            break;
        }
        let s = &seen[term];
        let phrase = s
            .forms
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(f, _)| f.clone())
            .unwrap_or_default();
        out.push(Candidate {
            phrase,
            score,
            posts: s.posts,
            threads: s.threads.len(),
            authors: s.authors.len(),
            examples: s
                .examples
                .iter()
                .map(|&i| {
                    (
                        set.posts()[i].id().to_string(),
                        set.posts()[i].text().to_string(),
                    )
                })
                .collect(),
        });
    }
    out
}

/// The byte offset of character `n` of `s`.
fn byte_of(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(b, _)| b)
}

/// The candidates as a draft codebook, every theme marked as a suggestion.
pub fn draft(candidates: &[Candidate]) -> Codebook {
    Codebook {
        meta: Meta {
            name: "discovered-draft".into(),
            language: "en".into(),
            ..Default::default()
        },
        themes: candidates
            .iter()
            .enumerate()
            .map(|(k, c)| Theme {
                id: format!(
                    "suggestion-{}-{}",
                    k + 1,
                    c.phrase
                        .chars()
                        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
                        .collect::<String>()
                        .trim_matches('-')
                ),
                label: format!("SUGGESTION: {}", c.phrase),
                description: format!(
                    "Suggested by `rethread themes discover` from posts no theme matched: in {} posts, {} threads, by {} authors. Read the examples, name it, widen the patterns, or delete it.",
                    c.posts, c.threads, c.authors
                ),
                patterns: vec![c.phrase.clone()],
                exclude: Vec::new(),
                examples: c.examples.iter().map(|(_, t)| t.clone()).take(2).collect(),
                ..Default::default()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Author, Platform, Post};
    use crate::themes::{code_corpus, Coder};
    use std::sync::Arc;

    fn post(id: &str, reply_to: Option<&str>, author: &str, text: &str) -> Post {
        let mut p = Post::new(Platform::Twitter, id);
        p.reply_to = reply_to.map(str::to_string);
        p.text = text.into();
        p.author = Arc::new(Author {
            id: Some(author.into()),
            handle: Some(author.into()),
            ..Author::default()
        });
        p
    }

    #[test]
    fn a_phrase_several_conversations_raise_is_suggested_and_drafted() {
        let mut set = PostSet::new();
        let texts = [
            ("1", None, "ana", "Hi Chloé, the hold music is unbearable"),
            (
                "2",
                Some("1"),
                "bo",
                "that hold music again, twenty minutes",
            ),
            (
                "3",
                None,
                "cy",
                "Hello Chloé! Stuck with the hold music, send help",
            ),
            ("4", None, "dee", "why is the hold music so loud"),
            (
                "5",
                None,
                "eve",
                "more staff training would fix the hold music",
            ),
            ("6", None, "fay", "a parrot sings"),
        ];
        for (id, parent, author, text) in texts {
            set.add(post(id, parent, author, text));
        }
        let threads = crate::thread::build(&set, &crate::thread::Options { quotes: false });
        let book = Codebook::default_codebook();
        let coder = Coder::new(&book).unwrap();
        let coding = code_corpus(&set, &threads, &coder);
        let found = discover(&set, &threads, &coding.posts, 3);
        assert_eq!(found[0].phrase, "hold music");
        // Post 5 is coded (training), so it does not count; the rest do.
        assert_eq!(
            (found[0].posts, found[0].threads, found[0].authors),
            (4, 3, 4)
        );
        assert!(
            found.iter().all(|c| c.phrase != "chloé"),
            "names after greetings are left out"
        );
        assert!(
            found
                .iter()
                .all(|c| c.phrase != "hold" && c.phrase != "music"),
            "left to the pair"
        );
        assert!(
            found.iter().all(|c| c.phrase != "parrot"),
            "one thread is not a theme"
        );
        let d = draft(&found);
        let again = Codebook::parse(&d.to_toml(), "draft").unwrap();
        assert!(again
            .themes
            .iter()
            .all(|t| t.label.starts_with("SUGGESTION: ")));
        let coder = Coder::new(&again).unwrap();
        for (i, t) in again.themes.iter().enumerate() {
            for ex in &t.examples {
                assert!(coder.code(ex).iter().any(|e| e.theme == i), "{ex}");
            }
        }
    }
}
