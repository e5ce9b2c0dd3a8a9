//! Clusters of posts by meaning, and names for them: the engine of `themes discover`.
//!
//! A sentence model puts posts that say the same thing near each other whatever words they use;
//! grouping the vectors finds what many posts talk about, which counting words cannot (people
//! complain about a lost bag as "luggage", "suitcase", "my bag never arrived").
//!
//! - [`kmeans`] is spherical k-means: the vectors are unit length, closeness is the cosine
//!   (a dot product), each centre is the normalised mean of its posts. It starts from
//!   k-means++ (each new centre drawn with probability growing with the squared distance to the
//!   nearest one chosen, so that the start covers the data) and keeps the best of several
//!   restarts. Every random choice comes from one seeded generator, so a seed gives the same
//!   clusters on every run and machine.
//! - [`choose_k`] picks k by the silhouette (cosine distance): for each post, how much closer it
//!   is to its own cluster than to the next one, averaged. The exact silhouette compares every
//!   pair of posts, so past [`SILHOUETTE_SAMPLE`] posts it is computed on a seeded sample.
//! - [`name_clusters`] names each cluster by class-based TF-IDF (each cluster is a class, as in
//!   BERTopic) over 1–3-word phrases, leaving out what is not a theme: stop words, numbers,
//!   @handles, URLs, the name after a greeting and an agent's sign-off ("-Becky", "^JD").
//!
//! Nothing here knows about posts, threads or models: vectors and texts in, numbers out, so
//! that it is tested with small hand-made vectors.

use super::pattern::{tokenize, Token};
use rayon::prelude::*;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::{BTreeMap, HashMap, HashSet};

/// At most this many posts enter the silhouette (it costs the square of their number).
pub const SILHOUETTE_SAMPLE: usize = 2_000;

/// How many k-means runs from different starts; the one with the closest fit is kept.
pub const RESTARTS: usize = 4;

/// Lloyd iterations per run at most (runs on sentence vectors settle in a few dozen).
const MAX_ITERATIONS: usize = 100;

/// A small seeded generator (SplitMix64): the same seed gives the same numbers everywhere,
/// which is all clustering needs from randomness.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n
    }
}

/// The cosine of two unit vectors. Eight running sums, so that the compiler can use vector
/// instructions (one sum in order cannot be reordered); the order is fixed, so results are the
/// same on every run.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    (lanes.iter().sum::<f32>() + tail) as f64
}

/// One clustering of the vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// The cluster of each vector, 0..k.
    pub assign: Vec<usize>,
    /// Unit-length centres.
    pub centres: Vec<Vec<f32>>,
    /// Sum over vectors of the cosine distance to their centre (lower fits better).
    pub cost: f64,
}

/// Spherical k-means of unit vectors into `k` clusters (k is cut to the number of vectors),
/// the best of `restarts` runs, deterministic for a seed.
pub fn kmeans(vectors: &[Vec<f32>], k: usize, seed: u64, restarts: usize) -> KMeans {
    let k = k.clamp(1, vectors.len().max(1));
    let mut rng = Rng::new(seed);
    let mut best: Option<KMeans> = None;
    for _ in 0..restarts.max(1) {
        let run_seed = rng.next_u64();
        let run = lloyd(vectors, plus_plus(vectors, k, &mut Rng::new(run_seed)));
        // Strictly better only: on a tie the earlier run stays, so the result never depends on
        // anything but the seed.
        if best.as_ref().is_none_or(|b| run.cost < b.cost) {
            best = Some(run);
        }
    }
    best.unwrap_or(KMeans {
        assign: Vec::new(),
        centres: Vec::new(),
        cost: 0.0,
    })
}

/// k-means++ start: the first centre uniformly, each next one with probability proportional
/// to the squared distance to the nearest centre so far.
fn plus_plus(vectors: &[Vec<f32>], k: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
    if vectors.is_empty() {
        return Vec::new();
    }
    let mut centres = vec![vectors[rng.below(vectors.len())].clone()];
    let mut nearest: Vec<f64> = vectors
        .par_iter()
        .map(|v| (1.0 - dot(v, &centres[0])).max(0.0))
        .collect();
    while centres.len() < k {
        let weights: Vec<f64> = nearest.iter().map(|d| d * d).collect();
        let total: f64 = weights.iter().sum();
        let pick = if total <= 0.0 {
            // Every vector sits on a centre already (duplicates): any one will do.
            rng.below(vectors.len())
        } else {
            let mut r = rng.next_f64() * total;
            let mut pick = vectors.len() - 1;
            for (i, w) in weights.iter().enumerate() {
                if r < *w {
                    pick = i;
                    break;
                }
                r -= w;
            }
            pick
        };
        let c = vectors[pick].clone();
        nearest
            .par_iter_mut()
            .zip(vectors.par_iter())
            .for_each(|(d, v)| *d = d.min((1.0 - dot(v, &c)).max(0.0)));
        centres.push(c);
    }
    centres
}

/// The nearest centre of `v` (the highest cosine; ties to the lower number) and its cosine.
fn nearest(v: &[f32], centres: &[Vec<f32>]) -> (usize, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for (c, centre) in centres.iter().enumerate() {
        let s = dot(v, centre);
        if s > best.1 {
            best = (c, s);
        }
    }
    best
}

/// Lloyd's iterations from `centres` until no vector changes cluster.
fn lloyd(vectors: &[Vec<f32>], mut centres: Vec<Vec<f32>>) -> KMeans {
    let k = centres.len();
    let dim = vectors.first().map_or(0, Vec::len);
    let mut assign = vec![usize::MAX; vectors.len()];
    for _ in 0..MAX_ITERATIONS {
        let next: Vec<(usize, f64)> = vectors.par_iter().map(|v| nearest(v, &centres)).collect();
        let changed = next.iter().zip(&assign).any(|((c, _), a)| *c != *a);
        assign = next.iter().map(|(c, _)| *c).collect();
        if !changed {
            break;
        }
        let mut sums = vec![vec![0f64; dim]; k];
        let mut counts = vec![0usize; k];
        for (v, &c) in vectors.iter().zip(&assign) {
            counts[c] += 1;
            for (s, x) in sums[c].iter_mut().zip(v) {
                *s += *x as f64;
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                // An empty cluster takes the vector that fits its own centre worst: the fit
                // can only get better, and k stays what was asked.
                let worst = next
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| counts[assign[*i]] > 1)
                    .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1).then(a.0.cmp(&b.0)))
                    .map(|(i, _)| i);
                if let Some(i) = worst {
                    counts[assign[i]] -= 1;
                    assign[i] = c;
                    counts[c] = 1;
                    centres[c] = vectors[i].clone();
                }
                continue;
            }
            let mut centre: Vec<f32> = sums[c].iter().map(|s| *s as f32).collect();
            super::embed::normalize(&mut centre);
            centres[c] = centre;
        }
    }
    let cost = vectors
        .iter()
        .zip(&assign)
        .map(|(v, &c)| 1.0 - dot(v, &centres[c]))
        .sum();
    KMeans {
        assign,
        centres,
        cost,
    }
}

/// The silhouette of clusterings of one set of vectors, on a fixed sample of them: the
/// distances of the sample are computed once and reused for every k tried.
pub struct Silhouette {
    /// Indices of the sampled vectors.
    sample: Vec<usize>,
    /// Cosine distances between sampled vectors, row by row.
    dist: Vec<f32>,
}

impl Silhouette {
    /// All vectors when there are at most [`SILHOUETTE_SAMPLE`], else a seeded sample of them.
    pub fn new(vectors: &[Vec<f32>], seed: u64) -> Silhouette {
        let mut sample: Vec<usize> = (0..vectors.len()).collect();
        if sample.len() > SILHOUETTE_SAMPLE {
            // A partial Fisher–Yates shuffle: the first SILHOUETTE_SAMPLE places are a uniform
            // sample without replacement.
            let mut rng = Rng::new(seed ^ 0x5117_0E77);
            for i in 0..SILHOUETTE_SAMPLE {
                let j = i + rng.below(sample.len() - i);
                sample.swap(i, j);
            }
            sample.truncate(SILHOUETTE_SAMPLE);
            sample.sort_unstable();
        }
        let m = sample.len();
        let dist: Vec<f32> = (0..m)
            .into_par_iter()
            .flat_map_iter(|a| {
                let va = &vectors[sample[a]];
                sample
                    .iter()
                    .map(move |&b| (1.0 - dot(va, &vectors[b])).max(0.0) as f32)
            })
            .collect();
        Silhouette { sample, dist }
    }

    /// The mean silhouette of `assign` (one cluster per vector) over the sample, in [-1, 1].
    /// A post alone in its cluster scores 0, as is usual; fewer than two clusters score 0.
    pub fn score(&self, assign: &[usize]) -> f64 {
        let m = self.sample.len();
        let k = self
            .sample
            .iter()
            .map(|&i| assign[i] + 1)
            .max()
            .unwrap_or(0);
        let labels: Vec<usize> = self.sample.iter().map(|&i| assign[i]).collect();
        let mut sizes = vec![0usize; k];
        for &l in &labels {
            sizes[l] += 1;
        }
        if sizes.iter().filter(|&&s| s > 0).count() < 2 {
            return 0.0;
        }
        let total: f64 = (0..m)
            .into_par_iter()
            .map(|a| {
                let own = labels[a];
                if sizes[own] < 2 {
                    return 0.0;
                }
                let mut sums = vec![0f64; k];
                let row = &self.dist[a * m..(a + 1) * m];
                for (d, &l) in row.iter().zip(&labels) {
                    sums[l] += *d as f64;
                }
                let inside = sums[own] / (sizes[own] - 1) as f64;
                let outside = (0..k)
                    .filter(|&c| c != own && sizes[c] > 0)
                    .map(|c| sums[c] / sizes[c] as f64)
                    .fold(f64::INFINITY, f64::min);
                let most = inside.max(outside);
                if most > 0.0 {
                    (outside - inside) / most
                } else {
                    0.0
                }
            })
            .sum();
        total / m as f64
    }
}

/// The k values tried when none is given: 2 to min(20, n/5), so that a cluster holds five
/// posts on average at the finest; empty when there are fewer than 10 vectors.
pub fn k_range(n: usize) -> std::ops::RangeInclusive<usize> {
    2..=(n / 5).min(20)
}

/// The chosen clustering, its silhouette, and the silhouette of every k tried.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub kmeans: KMeans,
    pub silhouette: f64,
    pub tried: Vec<(usize, f64)>,
}

/// k-means for each k of `ks`, keeping the k with the highest silhouette (the smaller k on a
/// tie: fewer themes are easier to read). With an empty range, one cluster of everything.
pub fn choose_k(vectors: &[Vec<f32>], ks: impl IntoIterator<Item = usize>, seed: u64) -> Chosen {
    let sil = Silhouette::new(vectors, seed);
    let mut best: Option<Chosen> = None;
    let mut tried = Vec::new();
    for k in ks {
        let run = kmeans(vectors, k, seed, RESTARTS);
        let s = sil.score(&run.assign);
        tried.push((k, s));
        if best.as_ref().is_none_or(|b| s > b.silhouette) {
            best = Some(Chosen {
                kmeans: run,
                silhouette: s,
                tried: Vec::new(),
            });
        }
    }
    let mut chosen = best.unwrap_or_else(|| {
        let run = kmeans(vectors, 1, seed, 1);
        Chosen {
            kmeans: run,
            silhouette: 0.0,
            tried: Vec::new(),
        }
    });
    chosen.tried = tried;
    chosen
}

/// One distinctive phrase of a cluster.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Phrase {
    /// As most often written, lowercase.
    pub text: String,
    /// Class-based TF-IDF.
    pub score: f64,
    /// Posts of the cluster that contain it.
    pub posts: usize,
}

/// Words that say nothing of a theme. Shared with the word-level discovery.
pub(crate) const STOP: &[&str] = &[
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

/// Words after which the next word is nearly always a name ("Hi Chloé", "Thanks Sam").
pub(crate) const GREETINGS: &[&str] = &[
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

/// Characters that open an agent's sign-off when glued to a name: "-Becky", "^JD", "*TS",
/// "~Mo", "/AB".
const SIGN_OFF_MARKS: &[char] = &['-', '–', '—', '^', '*', '~', '/'];

/// Tokens of `text` that are an agent's sign-off: a word glued to a sign-off mark that itself
/// follows a space (or starts the text), when it is among the last three words of the post or
/// is written as initials (one to three capitals: "^JD" is a signature wherever it stands);
/// or, among the last three words, a capitalised word after a mark and one space ("- Sam").
/// The sign-off takes the words after it too ("-Becky S."). "e-mail" is not a sign-off: its
/// mark follows a letter.
pub fn sign_off_tokens(chars: &[char], tokens: &[Token]) -> HashSet<usize> {
    let mut out = HashSet::new();
    let mark_at =
        |i: usize| SIGN_OFF_MARKS.contains(&chars[i]) && (i == 0 || chars[i - 1].is_whitespace());
    for (k, t) in tokens.iter().enumerate() {
        let word = &chars[t.start..t.end];
        let near_end = k + 3 >= tokens.len();
        let glued = t.start >= 1 && mark_at(t.start - 1);
        let spaced = t.start >= 2
            && chars[t.start - 1] == ' '
            && mark_at(t.start - 2)
            && word[0].is_uppercase();
        let initials = (1..=3).contains(&word.len()) && word.iter().all(|c| c.is_uppercase());
        if glued && initials && !near_end {
            out.insert(k);
        } else if (glued || spaced) && near_end {
            out.extend(k..tokens.len());
        }
    }
    out
}

/// The phrases (1–3 words) of one post: stem key → as written. A phrase is consecutive words
/// with nothing but spaces between them, beginning and ending with a content word (not a stop
/// word, at least two letters); a stop word may stand inside ("lost my luggage"). No word of it
/// may hold a digit, be a name after a greeting, or belong to a sign-off. URLs and @handles are
/// never tokens, and a hashtag is read as its words.
pub fn phrases_of(text: &str, stemmer: &Stemmer) -> Vec<(String, String)> {
    let chars: Vec<char> = text.chars().collect();
    let tokens = tokenize(text, stemmer);
    let mut dropped = sign_off_tokens(&chars, &tokens);
    for (k, w) in tokens.windows(2).enumerate() {
        if GREETINGS.contains(&&*w[0].lower) {
            dropped.insert(k + 1);
        }
    }
    let usable =
        |k: usize| !dropped.contains(&k) && !tokens[k].lower.chars().any(|c| c.is_numeric());
    let content = |k: usize| {
        usable(k) && tokens[k].lower.chars().count() >= 2 && !STOP.contains(&&*tokens[k].lower)
    };
    // Adjacent: only spaces between the two words (punctuation ends a phrase).
    let joined = |k: usize| {
        chars[tokens[k].end..tokens[k + 1].start]
            .iter()
            .all(|c| *c == ' ')
    };
    let mut out = Vec::new();
    for start in 0..tokens.len() {
        if !content(start) {
            continue;
        }
        for len in 1..=3 {
            let end = start + len - 1;
            if end >= tokens.len() || (len > 1 && !joined(end - 1)) {
                break;
            }
            if !usable(end) {
                break;
            }
            if !content(end) {
                continue;
            }
            let words = &tokens[start..=end];
            let key = words.iter().map(|t| &*t.stem).collect::<Vec<_>>().join(" ");
            let form = words
                .iter()
                .map(|t| &*t.lower)
                .collect::<Vec<_>>()
                .join(" ");
            out.push((key, form));
        }
    }
    out
}

/// The distinctive phrases of each cluster, best first, at most `top` each.
///
/// `clusters[c]` holds the texts of cluster c. Each phrase counts once per post (a post that
/// repeats a word says it once), must occur in at least two posts of the cluster, and scores
/// `tf(t, c) × ln(1 + A / f(t))`: its share of the cluster's phrases, against how common it is
/// over all clusters (`f(t)` its count over all, `A` the mean count of phrases per cluster).
/// A phrase whose words all sit inside a better phrase already chosen ("luggage" under "lost
/// luggage") is left out: it says nothing new.
pub fn name_clusters(clusters: &[Vec<&str>], top: usize) -> Vec<Vec<Phrase>> {
    let stemmer = Stemmer::create(Algorithm::English);
    // Per cluster: phrase key → posts holding it; per key: its written forms.
    let mut counts: Vec<HashMap<String, usize>> = Vec::with_capacity(clusters.len());
    let mut forms: HashMap<String, BTreeMap<String, usize>> = HashMap::new();
    for texts in clusters {
        let mut class: HashMap<String, usize> = HashMap::new();
        for text in texts {
            let mut seen = HashSet::new();
            for (key, form) in phrases_of(text, &stemmer) {
                *forms
                    .entry(key.clone())
                    .or_default()
                    .entry(form)
                    .or_default() += 1;
                if seen.insert(key.clone()) {
                    *class.entry(key).or_default() += 1;
                }
            }
        }
        counts.push(class);
    }
    let mut freq: HashMap<&str, usize> = HashMap::new();
    for class in &counts {
        for (t, n) in class {
            *freq.entry(t).or_default() += n;
        }
    }
    let total: usize = counts.iter().map(|c| c.values().sum::<usize>()).sum();
    let mean = total as f64 / counts.len().max(1) as f64;
    counts
        .iter()
        .map(|class| {
            let size: usize = class.values().sum();
            let mut ranked: Vec<(&String, f64, usize)> = class
                .iter()
                .filter(|(_, &n)| n >= 2)
                .map(|(t, &n)| {
                    let tf = n as f64 / size as f64;
                    let idf = (1.0 + mean / freq[t.as_str()] as f64).ln();
                    (t, tf * idf, n)
                })
                .collect();
            // Best first; on a tie the longer phrase (it says more), then by the key, so the
            // order never depends on hashing.
            let words_in = |k: &str| k.split(' ').count();
            ranked.sort_by(|a, b| {
                b.1.total_cmp(&a.1)
                    .then_with(|| words_in(b.0).cmp(&words_in(a.0)))
                    .then_with(|| a.0.cmp(b.0))
            });
            let mut chosen: Vec<(&String, Phrase)> = Vec::new();
            for (key, score, posts) in ranked {
                let words: HashSet<&str> = key.split(' ').collect();
                let text = || {
                    forms[key]
                        .iter()
                        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                        .map(|(f, _)| f.clone())
                        .unwrap_or_default()
                };
                // Inside a better phrase already chosen: nothing new.
                let inside = chosen
                    .iter()
                    .any(|(k, _)| words.is_subset(&k.split(' ').collect::<HashSet<&str>>()));
                if inside {
                    continue;
                }
                // Around a shorter phrase already chosen, in at least half its posts: the longer
                // one says it better ("lost luggage" for "lost"), and takes its place.
                let around = chosen.iter().position(|(k, p)| {
                    words.is_superset(&k.split(' ').collect::<HashSet<&str>>())
                        && posts * 2 >= p.posts
                });
                if let Some(mut at) = around {
                    chosen[at] = (
                        key,
                        Phrase {
                            text: text(),
                            score,
                            posts,
                        },
                    );
                    // It may stand for other chosen phrases too, on the same terms.
                    let mut k = 0;
                    while k < chosen.len() {
                        let (other, p) = &chosen[k];
                        let sub = k != at
                            && other
                                .split(' ')
                                .collect::<HashSet<&str>>()
                                .is_subset(&words)
                            && posts * 2 >= p.posts;
                        if sub {
                            chosen.remove(k);
                            if k < at {
                                at -= 1;
                            }
                        } else {
                            k += 1;
                        }
                    }
                    continue;
                }
                if chosen.len() >= top {
                    break;
                }
                chosen.push((
                    key,
                    Phrase {
                        text: text(),
                        score,
                        posts,
                    },
                ));
            }
            chosen.into_iter().map(|(_, p)| p).collect()
        })
        .collect()
}

/// A cluster's label from its phrases: the best, and the second when it shares no word with
/// it ("lost luggage / delayed bag"); empty without phrases.
pub fn label(phrases: &[Phrase]) -> String {
    let Some(first) = phrases.first() else {
        return String::new();
    };
    let words: HashSet<&str> = first.text.split(' ').collect();
    match phrases.get(1) {
        Some(second) if second.text.split(' ').all(|w| !words.contains(w)) => {
            format!("{} / {}", first.text, second.text)
        }
        _ => first.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` unit vectors scattered around `centre` (dimension 4) by a seeded jitter.
    fn blob(centre: [f32; 4], n: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
        (0..n)
            .map(|_| {
                let mut v: Vec<f32> = centre
                    .iter()
                    .map(|c| c + (rng.next_f64() as f32 - 0.5) * 0.3)
                    .collect();
                super::super::embed::normalize(&mut v);
                v
            })
            .collect()
    }

    fn three_blobs() -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut rng = Rng::new(7);
        let mut v = Vec::new();
        let mut gold = Vec::new();
        for (g, c) in [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.2],
        ]
        .into_iter()
        .enumerate()
        {
            let b = blob(c, 20, &mut rng);
            gold.extend(std::iter::repeat_n(g, b.len()));
            v.extend(b);
        }
        (v, gold)
    }

    /// Every pair of vectors together in the gold is together in the clusters, and apart
    /// where the gold is apart.
    fn same_partition(a: &[usize], b: &[usize]) -> bool {
        (0..a.len()).all(|i| (0..a.len()).all(|j| (a[i] == a[j]) == (b[i] == b[j])))
    }

    #[test]
    fn kmeans_finds_well_separated_groups() {
        let (v, gold) = three_blobs();
        let run = kmeans(&v, 3, 1, RESTARTS);
        assert!(same_partition(&run.assign, &gold), "{:?}", run.assign);
        for c in &run.centres {
            assert!((dot(c, c) - 1.0).abs() < 1e-5, "centres are unit length");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_clusters() {
        let (v, _) = three_blobs();
        assert_eq!(kmeans(&v, 4, 42, RESTARTS), kmeans(&v, 4, 42, RESTARTS));
        let a = choose_k(&v, k_range(v.len()), 9);
        let b = choose_k(&v, k_range(v.len()), 9);
        assert_eq!(a.kmeans, b.kmeans);
        assert_eq!(a.tried, b.tried);
    }

    #[test]
    fn k_is_asked_for_exactly_and_cut_to_the_vectors() {
        let (v, _) = three_blobs();
        let run = kmeans(&v, 5, 3, 2);
        let used: HashSet<usize> = run.assign.iter().copied().collect();
        assert_eq!(used.len(), 5, "no cluster is left empty");
        assert_eq!(kmeans(&v[..2], 5, 3, 1).centres.len(), 2);
    }

    #[test]
    fn silhouette_picks_the_true_number_of_groups() {
        let (v, gold) = three_blobs();
        let chosen = choose_k(&v, k_range(v.len()), 5);
        assert_eq!(chosen.kmeans.centres.len(), 3, "tried {:?}", chosen.tried);
        assert!(same_partition(&chosen.kmeans.assign, &gold));
        assert!(chosen.silhouette > 0.5, "{}", chosen.silhouette);
        assert_eq!(
            chosen.tried.iter().map(|t| t.0).collect::<Vec<_>>(),
            (2..=12).collect::<Vec<_>>()
        );
    }

    #[test]
    fn silhouette_matches_the_definition_by_hand() {
        // Points on a circle at angles 0, 10 degrees (cluster 0) and 90, 100 (cluster 1).
        let at = |deg: f64| {
            let r = deg.to_radians();
            vec![r.cos() as f32, r.sin() as f32]
        };
        let v = vec![at(0.0), at(10.0), at(90.0), at(100.0)];
        let d = |a: f64, b: f64| 1.0 - (a - b).to_radians().cos();
        // For the point at 0: a = d(0,10); b = mean(d(0,90), d(0,100)).
        let s = |a: f64, b: f64| (b - a) / a.max(b);
        let want = [
            s(d(0., 10.), (d(0., 90.) + d(0., 100.)) / 2.),
            s(d(10., 0.), (d(10., 90.) + d(10., 100.)) / 2.),
            s(d(90., 100.), (d(90., 0.) + d(90., 10.)) / 2.),
            s(d(100., 90.), (d(100., 0.) + d(100., 10.)) / 2.),
        ]
        .iter()
        .sum::<f64>()
            / 4.0;
        let got = Silhouette::new(&v, 0).score(&[0, 0, 1, 1]);
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        // A worse split scores lower.
        assert!(Silhouette::new(&v, 0).score(&[0, 1, 0, 1]) < got);
    }

    #[test]
    fn silhouette_samples_large_sets_the_same_way_every_time() {
        let mut rng = Rng::new(1);
        let v = blob([1.0, 0.5, 0.0, 0.0], SILHOUETTE_SAMPLE + 300, &mut rng);
        let a = Silhouette::new(&v, 4);
        assert_eq!(a.sample.len(), SILHOUETTE_SAMPLE);
        assert_eq!(a.sample, Silhouette::new(&v, 4).sample);
        assert_ne!(a.sample, Silhouette::new(&v, 5).sample);
    }

    #[test]
    fn fewer_than_ten_vectors_make_one_cluster() {
        let (v, _) = three_blobs();
        assert!(k_range(9).is_empty());
        let chosen = choose_k(&v[..6], k_range(6), 1);
        assert_eq!(chosen.kmeans.centres.len(), 1);
        assert!(chosen.tried.is_empty());
    }

    #[test]
    fn sign_offs_handles_numbers_and_links_never_make_phrases() {
        let stemmer = Stemmer::create(Algorithm::English);
        let posts = [
            "@AirlineCo So sorry about the lost luggage, we are tracing it now. -Becky",
            "Your lost luggage claim is open https://t.co/x ^JD",
            "We found the lost luggage 2 hours ago *TS",
            "Lost luggage again, 3rd time this year ~Mo",
            "Hi Chloé, your e-mail about lost luggage reached us. - Sam",
            "Lost luggage #LostLuggage -Becky S",
        ];
        let all: Vec<String> = posts
            .iter()
            .flat_map(|p| phrases_of(p, &stemmer))
            .map(|(_, form)| form)
            .collect();
        for bad in [
            "becky",
            "jd",
            "ts",
            "mo",
            "chloé",
            "sam",
            "airlineco",
            "co",
            "t",
            "2",
            "3rd",
        ] {
            assert!(
                !all.iter()
                    .any(|f| f.split(' ').any(|w| w == bad) || f == bad),
                "{bad:?} in {all:?}"
            );
        }
        assert!(all.iter().any(|f| f == "lost luggage"));
        // "e-mail" is a word, not a sign-off; "- Sam" (a spaced dash) is not glued, but a name
        // after "Hi" still goes.
        assert!(all.iter().any(|f| f == "mail"), "{all:?}");
        let phrases = name_clusters(&[posts.to_vec(), vec!["the wifi is down", "wifi down"]], 10);
        for p in phrases.iter().flatten() {
            assert!(!p.text.contains("becky") && !p.text.contains("jd"), "{p:?}");
        }
    }

    #[test]
    fn phrases_never_cross_punctuation_nor_end_on_a_stop_word() {
        let stemmer = Stemmer::create(Algorithm::English);
        let forms: Vec<String> = phrases_of("lost my luggage. Wifi broken, again", &stemmer)
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        assert!(forms.contains(&"lost my luggage".to_string()), "{forms:?}");
        assert!(!forms.iter().any(|f| f == "lost my" || f == "luggage wifi"));
        assert!(!forms.iter().any(|f| f == "broken again"));
        assert!(forms.contains(&"wifi broken".to_string()));
    }

    #[test]
    fn each_cluster_is_named_by_what_sets_it_apart() {
        let luggage = vec![
            "my lost luggage never arrived, terrible service",
            "still waiting for my lost luggage, terrible service",
            "lost luggage again on the flight",
            "the airline has lost luggage for the third time",
        ];
        let wifi = vec![
            "the wifi on board is broken, terrible service",
            "broken wifi the whole flight",
            "wifi broken again, no internet",
            "paid for wifi and it was broken",
        ];
        let named = name_clusters(&[luggage, wifi], 3);
        assert_eq!(named[0][0].text, "lost luggage", "{:?}", named[0]);
        assert_eq!(named[0][0].posts, 4);
        assert!(
            named[1].iter().take(2).any(|p| p.text == "wifi"),
            "{:?}",
            named[1]
        );
        // "terrible service" is in both: it sets neither apart, so it ranks below.
        assert!(
            named[0][0].score
                > named[0]
                    .iter()
                    .find(|p| p.text == "terrible service")
                    .map_or(0.0, |p| p.score)
        );
        // "luggage" alone adds nothing to "lost luggage".
        assert!(named[0]
            .iter()
            .all(|p| p.text != "luggage" && p.text != "lost"));
        // A phrase in one post only is not a theme of the cluster.
        assert!(named[1].iter().all(|p| p.text != "internet"));
        assert_eq!(label(&named[0][..1]), "lost luggage");
        let two = [
            Phrase {
                text: "lost luggage".into(),
                score: 2.0,
                posts: 3,
            },
            Phrase {
                text: "delayed bag".into(),
                score: 1.0,
                posts: 2,
            },
        ];
        assert_eq!(label(&two), "lost luggage / delayed bag");
    }

    #[test]
    fn a_longer_phrase_stands_for_a_shorter_one_only_where_it_covers_it() {
        let wifi = vec![
            "inflight wifi down",
            "inflight wifi slow",
            "wifi broken again",
            "wifi not working",
            "wifi useless",
        ];
        let other = vec!["seat broken", "seat dirty", "meal cold"];
        let named = name_clusters(&[wifi, other], 5);
        let texts: Vec<&str> = named[0].iter().map(|p| p.text.as_str()).collect();
        // "inflight" is always "inflight wifi": the pair takes its place; "wifi" is in five
        // posts and the pair in two, so "wifi" stays.
        assert!(texts.contains(&"inflight wifi"), "{texts:?}");
        assert!(texts.contains(&"wifi"), "{texts:?}");
        assert!(!texts.contains(&"inflight"), "{texts:?}");
    }
}
