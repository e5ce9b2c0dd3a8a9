//! Discovery: candidate themes nobody listed, from the posts no theme matched.
//!
//! Two ways, the second better:
//!
//! **By meaning** ([`by_meaning`]), when a sentence model is at hand: the posts' vectors are
//! clustered (see [`super::cluster`]: k-means, k by silhouette unless given) and each cluster
//! is named by its distinctive phrases. A cluster gathers posts that say the same thing in
//! different words, which is what a theme is; the researcher reads its central posts and names
//! it.
//!
//! **By words** ([`discover`]), without a model: the uncoded posts of each thread form one
//! document; terms are word stems and pairs of
//! adjacent stems, stop words left out. Each term is scored by class-based TF-IDF (as in
//! BERTopic: a thread is a class): `tf(t, c) × ln(1 + A / f(t))`, where `A` is the mean number
//! of terms per thread and `f(t)` the term's frequency over all threads, summed over the threads
//! where it occurs, and weighted by ln(1 + distinct authors): what many people say counts more
//! than what a few accounts repeat. A term must recur in at least two threads: a theme is
//! something several conversations raise, not one person's pet word. A word that mostly occurs
//! inside one recurring pair is left to the pair, and the word after a greeting (a name) is
//! left out. This finds words ("help", "send", an agent's name), rarely themes.
//!
//! Either way, candidates are suggestions for a researcher to read, name and edit, never codes.

use super::cluster::{self, Phrase, GREETINGS, STOP};
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

/// A theme found by meaning: one cluster of posts.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// 1, 2, … from the largest cluster down.
    pub id: usize,
    /// The top phrase(s); empty when no phrase recurs in the cluster.
    pub label: String,
    pub phrases: Vec<Phrase>,
    pub size: usize,
    pub threads: usize,
    pub authors: usize,
    /// Every post of the cluster (indices into the post set), in corpus order.
    pub posts: Vec<usize>,
    /// Up to three posts nearest the cluster's centre, nearest first: what it is about.
    pub central: Vec<usize>,
}

/// The clusters of one run, and how k was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    pub clusters: Vec<Cluster>,
    pub k: usize,
    /// Silhouette (cosine) of the clusters kept.
    pub silhouette: f64,
    /// k chosen by silhouette (`true`) or given.
    pub k_by_silhouette: bool,
    /// The silhouette of each k tried, when k was chosen.
    pub tried: Vec<(usize, f64)>,
}

/// How to cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The number of clusters; `None`: chosen by silhouette over [`cluster::k_range`].
    pub k: Option<usize>,
    pub seed: u64,
}

/// How many phrases name a cluster.
const PHRASES: usize = 5;

/// Cluster the posts `members` (indices into `set`) by their vectors (`vectors[j]` is the
/// unit vector of post `members[j]`), and name and count each cluster.
pub fn by_meaning(
    set: &PostSet,
    threads: &Threads,
    members: &[usize],
    vectors: &[Vec<f32>],
    opts: ClusterOptions,
) -> Clusters {
    assert_eq!(members.len(), vectors.len(), "one vector per post");
    let (run, silhouette, tried) = match opts.k {
        Some(k) => {
            let run = cluster::kmeans(vectors, k, opts.seed, cluster::RESTARTS);
            let s = cluster::Silhouette::new(vectors, opts.seed).score(&run.assign);
            (run, s, Vec::new())
        }
        None => {
            let c = cluster::choose_k(vectors, cluster::k_range(vectors.len()), opts.seed);
            (c.kmeans, c.silhouette, c.tried)
        }
    };
    let k = run.centres.len();
    let thread_of = thread_of_posts(threads, set.len());
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (j, &c) in run.assign.iter().enumerate() {
        groups[c].push(j);
    }
    // Largest first; on equal sizes the cluster whose first post comes first.
    let mut order: Vec<usize> = (0..k).filter(|&c| !groups[c].is_empty()).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(groups[c].len()), groups[c][0]));
    let texts: Vec<Vec<&str>> = order
        .iter()
        .map(|&c| {
            groups[c]
                .iter()
                .map(|&j| set.posts()[members[j]].text())
                .collect()
        })
        .collect();
    let named = cluster::name_clusters(&texts, PHRASES);
    let clusters = order
        .iter()
        .zip(named)
        .enumerate()
        .map(|(rank, (&c, phrases))| {
            let group = &groups[c];
            let posts: Vec<usize> = group.iter().map(|&j| members[j]).collect();
            let mut by_closeness: Vec<(usize, f32)> = group
                .iter()
                .map(|&j| (members[j], super::embed::dot(&vectors[j], &run.centres[c])))
                .collect();
            by_closeness.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let threads: HashSet<usize> = posts.iter().filter_map(|&i| thread_of[i]).collect();
            let authors: HashSet<&str> = posts
                .iter()
                .map(|&i| set.posts()[i].author().label())
                .collect();
            Cluster {
                id: rank + 1,
                label: cluster::label(&phrases),
                phrases,
                size: posts.len(),
                threads: threads.len(),
                authors: authors.len(),
                posts,
                central: by_closeness.iter().take(3).map(|(i, _)| *i).collect(),
            }
        })
        .collect();
    Clusters {
        clusters,
        k,
        silhouette,
        k_by_silhouette: opts.k.is_none(),
        tried,
    }
}

/// The thread of every post (index into `threads.threads`), `None` for a post in none.
fn thread_of_posts(threads: &Threads, posts: usize) -> Vec<Option<usize>> {
    let mut out = vec![None; posts];
    for (ti, t) in threads.threads.iter().enumerate() {
        for &n in &t.nodes {
            if let Node::Post(i) = threads.node(n) {
                out[i] = Some(ti);
            }
        }
    }
    out
}

/// The clusters as a draft codebook (TOML): a theme per cluster with phrases, labelled
/// `SUGGESTION: …`, its description saying where it came from, its examples the central posts
/// and its patterns the phrases. Returns the text and how many clusters were left out for
/// want of a phrase (a theme needs a pattern). Themes are also marked `semantic = true` when
/// the codebook format knows the key, so that they code by meaning as they were found.
///
/// Built as TOML data and read back with [`Codebook::parse`]: what is written is exactly what
/// `rethread themes codebook --check` accepts.
pub fn draft_clusters(found: &Clusters, set: &PostSet) -> anyhow::Result<(String, usize)> {
    use toml::{Table, Value};
    let mut themes = Vec::new();
    let mut skipped = 0;
    for c in &found.clusters {
        if c.phrases.is_empty() {
            skipped += 1;
            continue;
        }
        let text_of = |i: usize| set.posts()[i].text().to_string();
        let mut t = Table::new();
        t.insert(
            "id".into(),
            Value::from(format!("suggestion-{}-{}", c.id, slug(&c.label))),
        );
        t.insert(
            "label".into(),
            Value::from(format!("SUGGESTION: {}", c.label)),
        );
        t.insert(
            "description".into(),
            Value::from(format!(
                "Suggested by `rethread themes discover` from a cluster of {} posts ({} threads, {} authors) that a sentence model put together by meaning; its most central post: {:?}. Read the examples, name the theme, widen the patterns, or delete it.",
                c.size,
                c.threads,
                c.authors,
                c.central.first().map(|&i| one_line(&text_of(i), 200)).unwrap_or_default()
            )),
        );
        t.insert(
            "patterns".into(),
            Value::Array(
                c.phrases
                    .iter()
                    .map(|p| Value::from(p.text.clone()))
                    .collect(),
            ),
        );
        t.insert(
            "examples".into(),
            Value::Array(c.central.iter().map(|&i| Value::from(text_of(i))).collect()),
        );
        themes.push(Value::Table(t));
    }
    if themes.is_empty() {
        anyhow::bail!("no cluster has a phrase in two or more of its posts: nothing to draft");
    }
    let mut meta = Table::new();
    meta.insert("name".into(), Value::from("discovered-draft"));
    meta.insert("language".into(), Value::from("en"));
    let book = |semantic: bool| {
        let mut doc = Table::new();
        doc.insert("meta".into(), Value::Table(meta.clone()));
        let mut themes = themes.clone();
        if semantic {
            for t in &mut themes {
                if let Value::Table(t) = t {
                    t.insert("semantic".into(), Value::from(true));
                }
            }
        }
        doc.insert("theme".into(), Value::Array(themes));
        toml::to_string_pretty(&doc).expect("a table serializes")
    };
    let semantic = book(true);
    if Codebook::parse(&semantic, "the draft").is_ok() {
        return Ok((semantic, skipped));
    }
    let plain = book(false);
    Codebook::parse(&plain, "the draft")?;
    Ok((plain, skipped))
}

/// A theme id from a label: lowercase ASCII letters and digits, anything else one `-`.
fn slug(label: &str) -> String {
    let mut out = String::new();
    for ch in label.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// `text` on one line (white space collapsed), cut to `max` characters with an ellipsis.
pub fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
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

    /// Luggage posts near one axis, wifi posts near another, one luggage post a reply.
    fn two_topics() -> (PostSet, Vec<usize>, Vec<Vec<f32>>) {
        let texts = [
            ("1", None, "ana", "my lost luggage never arrived -Becky"),
            ("2", Some("1"), "bo", "lost luggage again, second time"),
            ("3", None, "cy", "they lost luggage on my flight"),
            ("4", None, "dee", "the wifi is broken on board"),
            ("5", None, "eve", "wifi broken the whole trip"),
            ("6", None, "fay", "paid for wifi, broken"),
            ("7", None, "gus", "a luggage tag"),
        ];
        let mut set = PostSet::new();
        for (id, parent, author, text) in texts {
            set.add(post(id, parent, author, text));
        }
        let at = |x: f32, y: f32| {
            let mut v = vec![x, y, 0.1];
            crate::themes::embed::normalize(&mut v);
            v
        };
        // Post 7 is left out (as if coded); indices follow the set's order.
        let members: Vec<usize> = (0..6)
            .map(|k| set.find(Platform::Twitter, &(k + 1).to_string()).unwrap())
            .collect();
        let vectors = vec![
            at(1.0, 0.0),
            at(0.9, 0.1),
            at(0.95, 0.05),
            at(0.0, 1.0),
            at(0.1, 0.9),
            at(0.2, 1.0),
        ];
        (set, members, vectors)
    }

    #[test]
    fn clusters_by_meaning_are_counted_named_and_centred() {
        let (set, members, vectors) = two_topics();
        let threads = crate::thread::build(&set, &crate::thread::Options { quotes: false });
        let found = by_meaning(
            &set,
            &threads,
            &members,
            &vectors,
            ClusterOptions {
                k: Some(2),
                seed: 1,
            },
        );
        assert_eq!(found.k, 2);
        assert!(!found.k_by_silhouette);
        assert!(found.silhouette > 0.5, "{}", found.silhouette);
        let ids =
            |c: &Cluster| -> Vec<&str> { c.posts.iter().map(|&i| set.posts()[i].id()).collect() };
        let luggage = found
            .clusters
            .iter()
            .find(|c| ids(c).contains(&"1"))
            .unwrap();
        let mut l = ids(luggage);
        l.sort();
        assert_eq!(l, ["1", "2", "3"]);
        assert_eq!((luggage.size, luggage.threads, luggage.authors), (3, 2, 3));
        assert_eq!(luggage.label, "lost luggage");
        assert!(luggage.phrases.iter().all(|p| !p.text.contains("becky")));
        // The post nearest the centre comes first: (0.95, 0.05) sits between the other two.
        assert_eq!(set.posts()[luggage.central[0]].id(), "3");
        let mut all: Vec<usize> = found
            .clusters
            .iter()
            .flat_map(|c| c.posts.clone())
            .collect();
        all.sort();
        let mut want = members.clone();
        want.sort();
        assert_eq!(all, want, "every post once, post 7 in none");
        assert_eq!(
            found.clusters.iter().map(|c| c.id).collect::<Vec<_>>(),
            [1, 2]
        );

        let (toml, skipped) = draft_clusters(&found, &set).unwrap();
        assert_eq!(skipped, 0);
        let book = Codebook::parse(&toml, "draft").unwrap();
        assert_eq!(book.themes.len(), 2);
        for (t, c) in book.themes.iter().zip(&found.clusters) {
            assert_eq!(t.label, format!("SUGGESTION: {}", c.label));
            assert!(
                t.id.starts_with(&format!("suggestion-{}-", c.id)),
                "{}",
                t.id
            );
            assert_eq!(t.examples.len(), 3);
            assert_eq!(t.examples[0], set.posts()[c.central[0]].text());
            assert_eq!(
                t.patterns,
                c.phrases.iter().map(|p| p.text.clone()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_draft_needs_a_cluster_with_a_phrase() {
        let (set, members, vectors) = two_topics();
        let threads = crate::thread::build(&set, &crate::thread::Options { quotes: false });
        // One cluster per post: no phrase recurs in any.
        let found = by_meaning(
            &set,
            &threads,
            &members,
            &vectors,
            ClusterOptions {
                k: Some(6),
                seed: 1,
            },
        );
        assert_eq!(found.clusters.len(), 6);
        assert!(found
            .clusters
            .iter()
            .all(|c| c.label.is_empty() && c.size == 1));
        assert!(draft_clusters(&found, &set).is_err());
    }

    #[test]
    fn one_line_collapses_and_cuts() {
        assert_eq!(one_line("a\n b\t c", 10), "a b c");
        assert_eq!(one_line("abcdefghij", 5), "abcd…");
    }
}
