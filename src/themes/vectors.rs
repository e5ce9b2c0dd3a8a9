//! Post and sentence vectors: what the model coders and discovery read.
//!
//! A post's text is embedded once as a whole (with URLs and @mentions left out: they name
//! places and people, not what is said) and once per sentence, so that a code can point at the
//! sentence that earned it. Offsets are character offsets in the post's plain text, as the
//! pattern coder's are, so every coder's evidence can be shown the same way.
//!
//! Embedding is the slow part of every command that uses a model (a few hundred texts a second
//! on a laptop), so vectors are computed once and kept in the corpus ([`post_vectors`]): a later
//! command reuses every vector whose post still has the same text under the same model, and
//! computes only the rest. A killed run keeps what it computed, because each chunk of posts is
//! stored as soon as it is embedded. With `--input` there is no corpus and [`embed_texts`]
//! computes in memory.
//!
//! Why texts are sorted by length before batching: a batch runs as long as its longest text
//! (every text is padded to it), so a batch of similar lengths wastes least.

use super::embed::Embed;
use crate::corpus::{Corpus, PostEmbedding, PostSet};
use anyhow::Result;
use indicatif::ProgressBar;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// One sentence of a text and its vector.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceVector {
    /// Character offsets of the sentence in the text, end exclusive.
    pub start: usize,
    pub end: usize,
    /// Unit length.
    pub vector: Vec<f32>,
}

/// The vectors of one text (a post, or a labelled example).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextVectors {
    /// The whole text's vector; `None` when nothing is left to embed (a post of only links,
    /// mentions or media).
    pub text: Option<Vec<f32>>,
    /// Its sentences, in order; empty when `text` is `None`.
    pub sentences: Vec<SentenceVector>,
}

impl TextVectors {
    /// Character offsets of the whole embedded text: from its first sentence to its last
    /// (leading @mentions and trailing links left out). `None` when nothing was embedded.
    pub fn span(&self) -> Option<(usize, usize)> {
        Some((self.sentences.first()?.start, self.sentences.last()?.end))
    }
}

/// What embedding made of a corpus: how many posts' vectors the model computed, and how many
/// were found in the corpus, unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbedStats {
    pub computed: usize,
    pub reused: usize,
    /// Why computed vectors could not be kept in the corpus (a read-only file, say), when they
    /// could not: the run goes on with them in memory, and the next run computes them again.
    pub not_stored: Option<String>,
}

/// Texts are embedded this many at a time, by length.
const BATCH: usize = 64;
/// Posts are prepared, embedded and stored this many at a time: a killed run loses at most one
/// chunk, and the progress bar moves once a chunk.
const CHUNK: usize = 256;

/// Bump when what is embedded of a text changes (the sentence splitter, the stripping), so
/// that vectors stored by an earlier rethread are computed again rather than misread.
const PIECES_VERSION: u8 = 1;

/// What is embedded of one text: the sentences (their character offsets in the text and what
/// the model reads of them) and the whole, which is the sentences' text joined by spaces.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pieces {
    pub sentences: Vec<Sentence>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    /// Character offsets in the text, end exclusive; the sentence as written is
    /// `text.chars().skip(start).take(end - start)`.
    pub start: usize,
    pub end: usize,
    /// What the model reads: the sentence without URLs and @mentions, white space collapsed.
    pub embedded: String,
}

impl Pieces {
    /// What the model reads of the whole text; `None` when nothing is left.
    pub fn whole(&self) -> Option<String> {
        if self.sentences.is_empty() {
            return None;
        }
        Some(
            self.sentences
                .iter()
                .map(|s| s.embedded.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// Identifies what is embedded (so a stored vector is reused only for the same text).
    pub fn hash(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update([PIECES_VERSION]);
        for s in &self.sentences {
            h.update(s.embedded.as_bytes());
            h.update([0]);
        }
        h.finalize()[..16].to_vec()
    }
}

/// Split `text` into the sentences that are embedded (see [`Sentence`]).
///
/// Sentences end at `.`, `!`, `?`, `…` (or a run of them, with closing quotes) followed by
/// white space or the end, and at line breaks. A full stop after a known abbreviation
/// ("Mr.", "e.g."), a single letter (an initial) or inside a number ("3.5") ends nothing, and
/// neither does `?)`, a question inside brackets. URLs and @mentions are never split and are
/// left out of what is embedded; a sentence with no letter or digit left (an emoji, "!!") is
/// joined to the one before it.
pub fn pieces(text: &str) -> Pieces {
    let chars: Vec<char> = text.chars().collect();
    let masked = masked_spans(&chars);
    let mut in_mask = vec![false; chars.len()];
    for &(s, e) in &masked {
        in_mask[s..e].iter_mut().for_each(|m| *m = true);
    }
    // Raw segments between boundaries.
    let mut segments: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_mask[i] {
            i += 1;
            continue;
        }
        if matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') {
            segments.push((start, i));
            i += 1;
            start = i;
            continue;
        }
        if is_terminator(c) {
            let mut j = i;
            while j < chars.len() && is_terminator(chars[j]) && !in_mask[j] {
                j += 1;
            }
            let run_end = j;
            while j < chars.len() && matches!(chars[j], '"' | '\'' | '”' | '’' | '»') {
                j += 1;
            }
            let ends = j == chars.len() || chars[j].is_whitespace();
            let single_stop = run_end == i + 1 && c == '.';
            // An ellipsis before a lowercase word is a pause ("hmm… not sure"), not an end.
            let ellipsis = chars[i..run_end].iter().all(|&c| c == '…' || c == '.')
                && (run_end > i + 1 || c == '…');
            let next_lower = chars[j..]
                .iter()
                .find(|c| !c.is_whitespace())
                .is_some_and(|c| c.is_lowercase());
            if ends
                && !(single_stop && abbreviation_before(&chars, i))
                && !(ellipsis && next_lower)
            {
                segments.push((start, j));
                start = j;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    segments.push((start, chars.len()));

    let mut out: Vec<Sentence> = Vec::new();
    // A leading segment with nothing in it waits to be joined to the next.
    let mut pending_start: Option<usize> = None;
    for (s, e) in segments {
        let (mut s, mut e) = (s, e);
        // Leading white space, mentions and the `:` after them ("@ana: thanks").
        while s < e && (chars[s].is_whitespace() || in_mask[s] || matches!(chars[s], ':' | ',' | ';')) {
            s += 1;
        }
        while e > s && (chars[e - 1].is_whitespace() || in_mask[e - 1]) {
            e -= 1;
        }
        if s == e {
            continue;
        }
        let has_word = (s..e).any(|k| !in_mask[k] && chars[k].is_alphanumeric());
        if !has_word {
            match out.last_mut() {
                Some(prev) => prev.end = e,
                None => {
                    pending_start.get_or_insert(s);
                }
            }
            continue;
        }
        let s = pending_start.take().unwrap_or(s);
        out.push(Sentence {
            start: s,
            end: e,
            embedded: String::new(),
        });
    }
    for sentence in &mut out {
        sentence.embedded = embedded_text(&chars[sentence.start..sentence.end], &in_mask[sentence.start..sentence.end]);
    }
    Pieces { sentences: out }
}

/// `chars` without the masked ones, white space collapsed.
fn embedded_text(chars: &[char], masked: &[bool]) -> String {
    let mut out = String::new();
    let mut space = false;
    for (&c, &m) in chars.iter().zip(masked) {
        if m || c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// What the model reads of a whole text: without URLs and @mentions, white space collapsed
/// (the sentences' text joined by spaces). Empty when nothing is left.
pub fn embedded_text_of(text: &str) -> String {
    pieces(text).whole().unwrap_or_default()
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '‽')
}

/// Words that end with a full stop and are not the end of a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "eg", "ie", "inc", "ltd",
    "co", "corp", "no", "nos", "approx", "dept", "est", "fig", "gov", "mt", "rd", "ave", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "min", "max",
    "cf", "al", "govt", "hr", "hrs", "tel", "ref", "re",
];

/// Is the full stop at `dot` the end of an abbreviation ("Mr.", "e.g.", "U.S.") or an initial?
fn abbreviation_before(chars: &[char], dot: usize) -> bool {
    let mut s = dot;
    while s > 0 && (chars[s - 1].is_alphanumeric() || chars[s - 1] == '.') {
        s -= 1;
    }
    let word: String = chars[s..dot].iter().collect();
    if word.is_empty() {
        return false;
    }
    // "e.g", "U.S", "a.m": letters with stops between them.
    if word.contains('.') && word.chars().all(|c| c.is_alphabetic() || c == '.') {
        return true;
    }
    let letters = word.chars().count();
    if letters == 1 && word.chars().all(char::is_uppercase) {
        return true;
    }
    ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

/// Character ranges of URLs and @mentions, as the pattern tokenizer finds them (see
/// `pattern::tokenize_into`), without the punctuation that ends a sentence after them.
pub fn masked_spans(chars: &[char]) -> Vec<(usize, usize)> {
    let word = |c: char| c.is_alphanumeric();
    let starts_with = |i: usize, p: &str| {
        p.chars()
            .enumerate()
            .all(|(k, pc)| chars.get(i + k).is_some_and(|c| c.to_ascii_lowercase() == pc))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at_word_start = i == 0 || !word(chars[i - 1]);
        if at_word_start
            && matches!(c, 'h' | 'H' | 'w' | 'W')
            && (starts_with(i, "http://") || starts_with(i, "https://") || starts_with(i, "www."))
        {
            let s = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            let mut e = i;
            while e > s && matches!(chars[e - 1], '.' | ',' | ';' | ':' | '!' | '?' | ')' | '…' | '"' | '\'' | '”' | '’') {
                e -= 1;
            }
            out.push((s, e));
            continue;
        }
        if c == '@' && at_word_start && chars.get(i + 1).is_some_and(|&n| word(n) || n == '_') {
            let s = i;
            while i < chars.len() && (word(chars[i]) || matches!(chars[i], '_' | '@' | '.' | '-')) {
                i += 1;
            }
            let mut e = i;
            while e > s && matches!(chars[e - 1], '.' | '-') {
                e -= 1;
            }
            out.push((s, e));
            continue;
        }
        i += 1;
    }
    out
}

/// Embed the pieces of some texts, in memory: for each, its whole and its sentences. Equal
/// strings are embedded once (a post of one sentence is embedded once, not twice).
fn embed_pieces(pieces: &[&Pieces], model: &dyn Embed) -> Result<Vec<TextVectors>> {
    // Distinct strings, then their order by length.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut strings: Vec<String> = Vec::new();
    let mut slot = |s: String, index: &mut HashMap<String, usize>| -> usize {
        if let Some(&k) = index.get(&s) {
            return k;
        }
        let k = strings.len();
        index.insert(s.clone(), k);
        strings.push(s);
        k
    };
    // Per text: (whole slot, sentence slots).
    let mut wanted: Vec<Option<(usize, Vec<usize>)>> = Vec::with_capacity(pieces.len());
    for p in pieces {
        wanted.push(p.whole().map(|whole| {
            let w = slot(whole, &mut index);
            let s = p
                .sentences
                .iter()
                .map(|s| slot(s.embedded.clone(), &mut index))
                .collect();
            (w, s)
        }));
    }
    let mut order: Vec<usize> = (0..strings.len()).collect();
    order.sort_by_key(|&k| strings[k].len());
    let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); strings.len()];
    for batch in order.chunks(BATCH) {
        let texts: Vec<&str> = batch.iter().map(|&k| strings[k].as_str()).collect();
        let got = model.embed(&texts)?;
        anyhow::ensure!(
            got.len() == texts.len(),
            "model {} gave {} vectors for {} texts",
            model.id(),
            got.len(),
            texts.len()
        );
        for (&k, v) in batch.iter().zip(got) {
            vectors[k] = v;
        }
    }
    Ok(pieces
        .iter()
        .zip(wanted)
        .map(|(p, w)| match w {
            None => TextVectors::default(),
            Some((whole, sentences)) => TextVectors {
                text: Some(vectors[whole].clone()),
                sentences: p
                    .sentences
                    .iter()
                    .zip(sentences)
                    .map(|(s, k)| SentenceVector {
                        start: s.start,
                        end: s.end,
                        vector: vectors[k].clone(),
                    })
                    .collect(),
            },
        })
        .collect())
}

/// The vectors of `texts`, computed in memory, in the order given. The bar advances per text.
pub fn embed_texts(
    texts: &[&str],
    model: &dyn Embed,
    progress: &ProgressBar,
) -> Result<Vec<TextVectors>> {
    let pieces: Vec<Pieces> = texts.par_iter().map(|t| pieces(t)).collect();
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let mut out = vec![TextVectors::default(); texts.len()];
    for chunk in order.chunks(CHUNK) {
        let ps: Vec<&Pieces> = chunk.iter().map(|&i| &pieces[i]).collect();
        for (&i, v) in chunk.iter().zip(embed_pieces(&ps, model)?) {
            out[i] = v;
        }
        progress.inc(chunk.len() as u64);
    }
    Ok(out)
}

/// The vectors of every post of `set`, indexed like `set.posts()`.
///
/// With a corpus, the vectors it holds for this model and the same text are reused and only
/// the others computed, then stored a chunk at a time. Posts with nothing to embed are
/// neither computed nor reused. The bar's length is set to the posts to compute.
pub fn post_vectors(
    set: &PostSet,
    corpus: Option<&Corpus>,
    model: &dyn Embed,
    progress: &ProgressBar,
) -> Result<(Vec<TextVectors>, EmbedStats)> {
    let posts = set.posts();
    let pieces: Vec<Pieces> = posts.par_iter().map(|p| pieces(p.text())).collect();
    let mut out = vec![TextVectors::default(); posts.len()];
    let mut have = vec![false; posts.len()];
    let mut stats = EmbedStats::default();
    if let Some(corpus) = corpus {
        corpus.for_each_embedding(model.id(), |stored| {
            let Some(i) = set.find(stored.platform, &stored.id) else {
                return; // a post no longer loaded (another --thread, a pseudonymised id)
            };
            if let Some(v) = reuse(&pieces[i], &stored.hash, stored.parts) {
                if !have[i] {
                    have[i] = true;
                    stats.reused += 1;
                }
                out[i] = v;
            }
        })?;
    }
    let mut todo: Vec<usize> = (0..posts.len())
        .filter(|&i| !have[i] && !pieces[i].sentences.is_empty())
        .collect();
    todo.sort_by_key(|&i| posts[i].text().len());
    progress.set_length(todo.len() as u64);
    for chunk in todo.chunks(CHUNK) {
        let ps: Vec<&Pieces> = chunk.iter().map(|&i| &pieces[i]).collect();
        let vectors = embed_pieces(&ps, model)?;
        if let (Some(corpus), None) = (corpus, &stats.not_stored) {
            let hashes: Vec<Vec<u8>> = chunk.iter().map(|&i| pieces[i].hash()).collect();
            let rows: Vec<PostEmbedding> = chunk
                .iter()
                .zip(&vectors)
                .zip(&hashes)
                .map(|((&i, v), hash)| stored_form(&posts[i], hash, v))
                .collect();
            if let Err(e) = corpus.store_embeddings(model.id(), &rows) {
                stats.not_stored = Some(format!("{e:#}"));
            }
        }
        for (&i, v) in chunk.iter().zip(vectors) {
            out[i] = v;
        }
        stats.computed += chunk.len();
        progress.inc(chunk.len() as u64);
    }
    Ok((out, stats))
}

/// A post's vectors as the corpus keeps them: part 0 the whole text, then each sentence.
fn stored_form<'a>(
    post: &'a crate::corpus::PackedPost,
    hash: &'a [u8],
    v: &'a TextVectors,
) -> PostEmbedding<'a> {
    let (start, end) = v.span().unwrap_or((0, 0));
    let mut parts = Vec::with_capacity(v.sentences.len() + 1);
    if let Some(text) = &v.text {
        parts.push((start, end, text.as_slice()));
    }
    parts.extend(v.sentences.iter().map(|s| (s.start, s.end, s.vector.as_slice())));
    PostEmbedding {
        platform: post.platform(),
        id: post.id(),
        hash,
        parts,
    }
}

/// A post's stored parts (0: the whole text, then each sentence) as its vectors, when they were
/// computed from what is embedded of its text now.
fn reuse(p: &Pieces, hash: &[u8], parts: Vec<Vec<f32>>) -> Option<TextVectors> {
    if hash != p.hash().as_slice() || parts.len() != p.sentences.len() + 1 {
        return None;
    }
    let mut parts = parts.into_iter();
    let text = parts.next()?;
    Some(TextVectors {
        text: Some(text),
        // Offsets come from splitting the text now, not from the corpus: the same sentences
        // sit elsewhere in a text whose links or handles changed (a pseudonymised export).
        sentences: p
            .sentences
            .iter()
            .zip(parts)
            .map(|(s, vector)| SentenceVector {
                start: s.start,
                end: s.end,
                vector,
            })
            .collect(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        pieces(text)
            .sentences
            .iter()
            .map(|s| chars[s.start..s.end].iter().collect())
            .collect()
    }

    #[test]
    fn sentences_split_at_stops_and_line_breaks_with_character_offsets() {
        assert_eq!(
            split("Staff get no training. Inflexible rules!  Why?\nNew line"),
            ["Staff get no training.", "Inflexible rules!", "Why?", "New line"]
        );
        // Offsets are characters, not bytes.
        let text = "Café’s “rules”… are rigid. Naïve?";
        let p = pieces(text);
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(p.sentences.len(), 2);
        assert_eq!((p.sentences[1].start, p.sentences[1].end), (27, 33));
        assert_eq!(
            chars[p.sentences[1].start..p.sentences[1].end]
                .iter()
                .collect::<String>(),
            "Naïve?"
        );
        assert_eq!(split("Café’s “rules”… are rigid.")[0], "Café’s “rules”… are rigid.");
    }

    #[test]
    fn abbreviations_decimals_and_brackets_end_no_sentence() {
        assert_eq!(
            split("Mr. Smith paid 3.5 times more, e.g. for tea. Dr. J. Watson agreed."),
            ["Mr. Smith paid 3.5 times more, e.g. for tea.", "Dr. J. Watson agreed."]
        );
        assert_eq!(
            split("…Perception of safety (anonymity?) in numbers perhaps…"),
            ["…Perception of safety (anonymity?) in numbers perhaps…"]
        );
        assert_eq!(
            split("pace with environment..but.. wait!!! \"Really?\" yes"),
            ["pace with environment..but.. wait!!!", "\"Really?\"", "yes"]
        );
        assert_eq!(split("hmm… not sure... Next one"), ["hmm… not sure...", "Next one"]);
    }

    #[test]
    fn one_sentence_is_the_text_and_nothing_is_never_a_sentence() {
        let text = "just one sentence here";
        let p = pieces(text);
        assert_eq!(p.sentences.len(), 1);
        assert_eq!((p.sentences[0].start, p.sentences[0].end), (0, text.chars().count()));
        assert_eq!(p.whole().unwrap(), text);
        for empty in ["", "   ", "@ana @bo", "https://x.example/a", "🙂 !!", "\n\n"] {
            assert!(pieces(empty).sentences.is_empty(), "{empty:?}");
            assert_eq!(pieces(empty).whole(), None);
        }
        // An emoji or stray punctuation joins the sentence before it.
        assert_eq!(split("doing it well, that is? 🙂"), ["doing it well, that is? 🙂"]);
        assert_eq!(split("🙂 Good. !!"), ["🙂 Good. !!"]);
    }

    #[test]
    fn urls_and_mentions_are_left_out_of_what_is_embedded() {
        let text = "@audaciousgloop @bo: see https://ex.am/ple?a=b. And www.x.org, @ana@social.example ok";
        let p = pieces(text);
        let chars: Vec<char> = text.chars().collect();
        let got: Vec<(String, &str)> = p
            .sentences
            .iter()
            .map(|s| (chars[s.start..s.end].iter().collect(), s.embedded.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("see https://ex.am/ple?a=b.".to_string(), "see ."),
                ("And www.x.org, @ana@social.example ok".to_string(), "And , ok"),
            ]
        );
        assert_eq!(p.whole().unwrap(), "see . And , ok");
        // An e-mail address is not a mention.
        assert_eq!(embedded_text_of("e-mail me@example.org"), "e-mail me@example.org");
        assert_eq!(embedded_text_of("thanks @nz_rob."), "thanks .");
    }

    #[test]
    fn the_hash_follows_what_is_embedded() {
        let a = pieces("Rules are rigid. @ana");
        assert_eq!(a.hash(), pieces("Rules are rigid. @bo").hash(), "handles are not embedded");
        assert_ne!(a.hash(), pieces("Rules are rigid!").hash());
        assert_ne!(a.hash(), pieces("Rules are. Rigid").hash());
    }

    /// A model of hand-made vectors: a text's vector counts the letters a, b, c in it, so
    /// tests can say which texts are close. Counts the texts it embeds.
    pub(crate) struct Letters {
        pub calls: std::sync::Mutex<Vec<usize>>,
    }

    impl Letters {
        pub(crate) fn new() -> Letters {
            Letters {
                calls: std::sync::Mutex::new(Vec::new()),
            }
        }
        pub(crate) fn embedded(&self) -> usize {
            self.calls.lock().unwrap().iter().sum()
        }
    }

    impl Embed for Letters {
        fn id(&self) -> &str {
            "letters"
        }
        fn dim(&self) -> usize {
            3
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.calls.lock().unwrap().push(texts.len());
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v: Vec<f32> = ['a', 'b', 'c']
                        .iter()
                        .map(|&l| t.chars().filter(|&c| c == l).count() as f32 + 0.01)
                        .collect();
                    crate::themes::embed::normalize(&mut v);
                    v
                })
                .collect())
        }
    }

    #[test]
    fn texts_are_embedded_in_batches_by_length_each_string_once() {
        let model = Letters::new();
        let long = "b ".repeat(40);
        let texts: Vec<&str> = vec!["aaa. bbb.", "@ana", "ccc", long.as_str(), "ccc"];
        let bar = ProgressBar::hidden();
        bar.set_length(texts.len() as u64);
        let v = embed_texts(&texts, &model, &bar).unwrap();
        assert_eq!(bar.position(), 5);
        assert_eq!(v[1], TextVectors::default());
        assert_eq!(v[0].sentences.len(), 2);
        assert_eq!((v[0].sentences[1].start, v[0].sentences[1].end), (5, 9));
        assert!(v[0].sentences[0].vector[0] > 0.99 && v[0].sentences[1].vector[1] > 0.99);
        assert_eq!(v[2], v[4]);
        assert_eq!(v[2].text.as_ref(), Some(&v[2].sentences[0].vector));
        // "aaa. bbb.", "aaa.", "bbb.", "ccc", the long one: five distinct strings.
        assert_eq!(model.embedded(), 5);
        assert!(model.calls.lock().unwrap().iter().all(|&n| n <= BATCH));
    }

    fn corpus_of(dir: &std::path::Path, texts: &[(&str, &str)]) -> Corpus {
        use crate::model::{Platform, Post, Record};
        let mut c = Corpus::open(&dir.join("c.db")).unwrap();
        let mut w = c.writer().unwrap();
        for (id, text) in texts {
            let mut p = Post::new(Platform::Twitter, *id);
            p.text = text.to_string();
            w.add(&Record::Post(Box::new(p))).unwrap();
        }
        w.commit().unwrap();
        c
    }

    #[test]
    fn vectors_kept_in_the_corpus_are_reused_and_an_edited_post_is_embedded_again() {
        let dir = tempfile::tempdir().unwrap();
        let texts = [("1", "aaa. bbb."), ("2", "@ana https://x.example"), ("3", "ccc")];
        let corpus = corpus_of(dir.path(), &texts);
        let set = corpus.load().unwrap();
        let model = Letters::new();
        let bar = ProgressBar::hidden();
        let (first, stats) = post_vectors(&set, Some(&corpus), &model, &bar).unwrap();
        assert_eq!((stats.computed, stats.reused, stats.not_stored), (2, 0, None));
        assert_eq!(bar.position(), 2);
        let embedded = model.embedded();
        assert_eq!(corpus.embedded_posts("letters").unwrap(), 2);

        let (again, stats) = post_vectors(&set, Some(&corpus), &model, &bar).unwrap();
        assert_eq!((stats.computed, stats.reused), (0, 2));
        assert_eq!(model.embedded(), embedded, "nothing embedded the second time");
        assert_eq!(again, first);
        // The same vectors as computed in memory.
        let texts: Vec<&str> = set.posts().iter().map(|p| p.text()).collect();
        assert_eq!(embed_texts(&texts, &model, &bar).unwrap(), first);

        // Post 1 edited: embedded again, alone.
        rusqlite::Connection::open(dir.path().join("c.db"))
            .unwrap()
            .execute("UPDATE posts SET text = 'aaa. bbb. ccc ccc.' WHERE id = '1'", [])
            .unwrap();
        let set = corpus.load().unwrap();
        let (v, stats) = post_vectors(&set, Some(&corpus), &model, &bar).unwrap();
        assert_eq!((stats.computed, stats.reused), (1, 1));
        let one = set.find(crate::model::Platform::Twitter, "1").unwrap();
        assert_eq!(v[one].sentences.len(), 3);
        // Another model's vectors are never mixed in.
        struct Other(Letters);
        impl Embed for Other {
            fn id(&self) -> &str {
                "other"
            }
            fn dim(&self) -> usize {
                3
            }
            fn embed(&self, t: &[&str]) -> Result<Vec<Vec<f32>>> {
                self.0.embed(t)
            }
        }
        let (_, stats) = post_vectors(&set, Some(&corpus), &Other(Letters::new()), &bar).unwrap();
        assert_eq!((stats.computed, stats.reused), (2, 0));
    }
}
