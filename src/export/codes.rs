//! How a post's codes are shown: which coder made each one and on what evidence, the same in
//! every export, so that a reader can always tell words a pattern matched from a judgement a
//! model made.
//!
//! Readable exports (markdown, HTML) show each theme of a post with its evidence:
//! - pattern codes: the words that matched, quoted as written: `training (“trained”)`;
//! - semantic codes: the sentence, with its similarity to the theme's prototype:
//!   `empowerment (semantic 0.61: “…”)`;
//! - learned codes: the classifier's probability, the sentence, and the most similar labelled
//!   example: `empowerment (learned 0.83: “…”, nearest labelled example “…”)`.
//!
//! Machine-readable exports that carry only theme ids (graphs, ConvoKit, CSV) carry
//! [`theme_coders`] beside them: `id:coder` per theme, `+` between coders that agree.
//!
//! The text pieces come from the data and from the researcher's sample, so every one goes
//! through the format's own escaping, passed in as `escape`; the words added here are plain.

use crate::themes::{Codebook, CoderKind, Evidence};
use crate::thread::{Node, Thread, Threads};
use std::collections::BTreeMap;

/// The coders, in the order they are shown.
pub const CODERS: [CoderKind; 3] = [CoderKind::Pattern, CoderKind::Semantic, CoderKind::Learned];

/// One entry per theme of the post (in the order the themes first appear in `ev`): the theme
/// id and its evidence in parentheses, every piece from the data passed through `escape`.
pub fn describe(book: &Codebook, ev: &[Evidence], escape: impl Fn(&str) -> String) -> Vec<String> {
    let quote = |s: &str| format!("“{}”", escape(s));
    crate::themes::codebook::themes_of(ev)
        .into_iter()
        .map(|th| {
            let mine: Vec<&Evidence> = ev.iter().filter(|e| e.theme == th).collect();
            let mut parts: Vec<String> = Vec::new();
            // The matched words first, as they have always been shown.
            parts.extend(
                mine.iter()
                    .filter(|e| e.coder == CoderKind::Pattern)
                    .map(|e| quote(&e.text)),
            );
            for e in &mine {
                match e.coder {
                    CoderKind::Pattern => {}
                    CoderKind::Semantic => parts.push(format!(
                        "semantic{}: {}",
                        score(e.similarity),
                        quote(&e.text)
                    )),
                    CoderKind::Learned => {
                        let mut s = format!("learned{}: {}", score(e.probability), quote(&e.text));
                        if let Some(x) = e.example.as_deref().filter(|x| !x.is_empty()) {
                            s.push_str(&format!(", nearest labelled example {}", quote(x)));
                        }
                        parts.push(s);
                    }
                }
            }
            format!("{} ({})", escape(&book.themes[th].id), parts.join(", "))
        })
        .collect()
}

/// ` 0.61`, or nothing when the coder gave no figure.
fn score(x: Option<f64>) -> String {
    x.map(|x| format!(" {x:.2}")).unwrap_or_default()
}

/// The coders of each theme of a post, for exports that carry theme ids only:
/// `rigid-systems:pattern;empowerment:pattern+semantic`, themes in the order of
/// [`Codebook::ids_of`], coders in the order of [`CODERS`]. Theme ids are lowercase letters,
/// digits, `-` and `_` (the codebook checks), so `:`, `;` and `+` cannot be mistaken.
pub fn theme_coders(book: &Codebook, ev: &[Evidence]) -> String {
    crate::themes::codebook::themes_of(ev)
        .into_iter()
        .map(|th| {
            let coders: Vec<&str> = CODERS
                .iter()
                .filter(|&&c| ev.iter().any(|e| e.theme == th && e.coder == c))
                .map(|c| c.as_str())
                .collect();
            format!("{}:{}", book.themes[th].id, coders.join("+"))
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// One piece of evidence for a cell of text (CSV): `id: words` for a pattern code, as before;
/// `id (semantic 0.61): sentence` and `id (learned 0.83): sentence` for model codes. Not
/// escaped: the CSV writer quotes cells.
pub fn evidence_cell(book: &Codebook, e: &Evidence) -> String {
    let id = &book.themes[e.theme].id;
    match e.coder {
        CoderKind::Pattern => format!("{id}: {}", e.text),
        CoderKind::Semantic => format!("{id} (semantic{}): {}", score(e.similarity), e.text),
        CoderKind::Learned => format!("{id} (learned{}): {}", score(e.probability), e.text),
    }
}

/// For each theme raised in `thread`: how many of its posts each coder gave it to, indexed
/// like [`CODERS`]. A post coded by two coders counts for both.
pub fn coders_in_thread(
    threads: &Threads,
    thread: &Thread,
    codes: &[Vec<Evidence>],
) -> BTreeMap<usize, [usize; 3]> {
    let mut out: BTreeMap<usize, [usize; 3]> = BTreeMap::new();
    for &n in &thread.nodes {
        let Node::Post(i) = threads.node(n) else {
            continue;
        };
        let ev = &codes[i];
        for th in crate::themes::codebook::themes_of(ev) {
            let counts = out.entry(th).or_default();
            for (k, c) in CODERS.iter().enumerate() {
                if ev.iter().any(|e| e.theme == th && e.coder == *c) {
                    counts[k] += 1;
                }
            }
        }
    }
    out
}

/// `pattern 2, semantic 1`: the counts of [`coders_in_thread`] for one theme, the coders that
/// gave it to no post left out.
pub fn coded_by(counts: &[usize; 3]) -> String {
    CODERS
        .iter()
        .zip(counts)
        .filter(|(_, &n)| n > 0)
        .map(|(c, n)| format!("{} {n}", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The line under a theme table that says how to read the codes.
pub const LEGEND: &str = "Codes under the posts: quoted words matched a codebook pattern; \
“semantic 0.61” is a sentence's similarity to the theme; “learned 0.83” is the probability a \
classifier learned from a coded sample gave, with the nearest labelled example.";

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Codebook {
        Codebook::parse(
            r#"
[meta]
name = "t"
[[theme]]
id = "empowerment"
label = "Empowerment"
patterns = ["empower*"]
[[theme]]
id = "training"
label = "Training"
patterns = ["train"]
"#,
            "test",
        )
        .unwrap()
    }

    fn semantic(theme: usize, text: &str, sim: f64) -> Evidence {
        Evidence {
            coder: CoderKind::Semantic,
            similarity: Some(sim),
            ..Evidence::pattern(theme, String::new(), text.into(), 0, text.chars().count())
        }
    }

    #[test]
    fn each_theme_shows_its_coders_in_order() {
        let b = book();
        let ev = vec![
            Evidence::pattern(1, "train".into(), "trained".into(), 0, 7),
            semantic(0, "let them decide", 0.614),
            Evidence::pattern(0, "empower*".into(), "empowered".into(), 9, 18),
            Evidence {
                coder: CoderKind::Learned,
                similarity: None,
                probability: Some(0.8349),
                example: Some("staff who can decide".into()),
                ..semantic(0, "let them decide", 0.0)
            },
        ];
        let shown = describe(&b, &ev, |s| s.to_string());
        assert_eq!(
            shown,
            vec![
                "training (“trained”)".to_string(),
                "empowerment (“empowered”, semantic 0.61: “let them decide”, learned 0.83: \
                 “let them decide”, nearest labelled example “staff who can decide”)"
                    .to_string(),
            ]
        );
        assert_eq!(
            theme_coders(&b, &ev),
            "training:pattern;empowerment:pattern+semantic+learned"
        );
        assert_eq!(
            evidence_cell(&b, &ev[1]),
            "empowerment (semantic 0.61): let them decide"
        );
        assert_eq!(evidence_cell(&b, &ev[0]), "training: trained");
        assert_eq!(coded_by(&[2, 0, 1]), "pattern 2, learned 1");
    }
}
