//! A self-contained static HTML report: `index.html` with the thread list and a chart of theme
//! frequencies, and one page per thread with its reply tree drawn as SVG beside the transcript.
//! No scripts, no external resources: it opens offline from the file system.
//!
//! The tree: one row per post in time order (time flows down), one column per branch (a post
//! takes its parent's column if it is the first reply, else a new one), authors coloured,
//! gaps drawn dashed. Positions come from one pass over the preorder, never from recursion.

use super::atomic::{self, Durability};
use crate::corpus::PostSet;
use crate::model::format_time;
use crate::themes::{Codebook, Evidence};
use crate::thread::{Node, Thread, Threads};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// Escape text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}
.wrap{display:flex;gap:2em;align-items:flex-start}.tree{flex:0 0 auto}.posts{flex:1 1 auto;max-width:48em}
.post{margin:.6em 0}.who{font-weight:bold}.themes{color:#555;font-size:.85em}.gap{color:#a00;font-style:italic}
.bar{fill:#4a7ab5}";

/// A stable colour per author.
fn colour(author: &str) -> String {
    let mut h: u32 = 2166136261;
    for b in author.bytes() {
        h = (h ^ b as u32).wrapping_mul(16777619);
    }
    format!("hsl({},55%,55%)", h % 360)
}

/// What was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    pub pages: usize,
}

/// Write the report into `dir`.
pub fn write(dir: &Path, input: &super::Input) -> Result<Report> {
    let mut w = Writer::new(dir)?;
    w.add(input)?;
    w.finish(input.codes.map(|(book, _)| book), input.note())
}

/// The report being written a batch of threads at a time (`export html --db`): each thread's
/// page as it comes, the index (a row per thread, the theme counts) at the end.
pub struct Writer<'d> {
    dir: &'d Path,
    // One name per thread, distinct whatever the case (see `unique_file_names`): two threads
    // never share a page, and each index row links to its own thread.
    names: super::FileNamer,
    theme_posts: HashMap<usize, usize>,
    rows: String,
    pages: usize,
}

impl<'d> Writer<'d> {
    pub fn new(dir: &'d Path) -> Result<Writer<'d>> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        Ok(Writer {
            dir,
            names: super::FileNamer::new("html"),
            theme_posts: HashMap::new(),
            rows: String::new(),
            pages: 0,
        })
    }

    /// The pages of `input`'s selected threads, in their order.
    pub fn add(&mut self, input: &super::Input) -> Result<()> {
        let (set, threads, selected, codes) =
            (input.set, input.threads, input.selected, input.codes);
        let note = input.note();
        for &ti in selected {
            let t = &threads.threads[ti];
            let name = self.names.name(&t.id);
            let mut counts: HashMap<usize, usize> = HashMap::new();
            for &n in &t.nodes {
                if let (Node::Post(i), Some((_, ev))) = (threads.node(n), codes) {
                    for th in crate::themes::codebook::themes_of(&ev[i]) {
                        *counts.entry(th).or_default() += 1;
                        *self.theme_posts.entry(th).or_default() += 1;
                    }
                }
            }
            let mut top: Vec<(usize, usize)> = counts.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let top_names: Vec<String> = match codes {
                Some((book, _)) => top
                    .iter()
                    .take(3)
                    .map(|(th, n)| format!("{} ({n})", esc(&book.themes[*th].label)))
                    .collect(),
                None => Vec::new(),
            };
            let _ = writeln!(
                self.rows,
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td><td>{}</td><td>{}</td></tr>",
                esc(&name),
                esc(&t.id),
                t.posts,
                t.depth,
                t.participants,
                t.start.as_ref().map(format_time).unwrap_or_default(),
                t.end.as_ref().map(format_time).unwrap_or_default(),
                t.gaps,
                top_names.join(", ")
            );
            let page = thread_page(set, threads, t, codes, note);
            // Beside the target and renamed into place: a planted link is replaced, not followed.
            atomic::write_bytes(&self.dir.join(&name), Durability::Unsynced, page.as_bytes())?;
            self.pages += 1;
        }
        Ok(())
    }

    /// Write `index.html`: `book` when the threads were coded (the theme chart), `note` at the
    /// top (pseudonymised).
    pub fn finish(self, book: Option<&Codebook>, note: Option<&str>) -> Result<Report> {
        let (theme_posts, rows) = (self.theme_posts, self.rows);
        // The chart of theme frequencies (posts per theme), as SVG bars.
        let mut chart = String::new();
        if let Some(book) = book {
            let max = theme_posts.values().copied().max().unwrap_or(0).max(1);
            let h = 22 * book.themes.len() + 10;
            let _ = writeln!(chart, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"{h}\" role=\"img\" aria-label=\"posts per theme\">");
            for (k, t) in book.themes.iter().enumerate() {
                let n = theme_posts.get(&k).copied().unwrap_or(0);
                let w = 400 * n / max;
                let y = 5 + 22 * k;
                let _ = writeln!(
                    chart,
                    "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect class=\"bar\" x=\"260\" y=\"{y}\" width=\"{w}\" height=\"16\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{n}</text>",
                    y + 12,
                    esc(&t.label),
                    265 + w,
                    y + 12
                );
            }
            chart.push_str("</svg>\n");
        }
        let mut index = String::new();
        let _ = write!(
            index,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>rethread report</title><style>{STYLE}</style></head><body>\n<h1>Threads</h1>\n"
        );
        if let Some(note) = note {
            let _ = writeln!(index, "<p><em>{}</em></p>", esc(note));
        }
        let _ = writeln!(
            index,
            "<p>{} threads. Made by rethread {}.</p>",
            self.pages,
            env!("CARGO_PKG_VERSION")
        );
        if !chart.is_empty() {
            let _ = writeln!(index, "<h2>Themes</h2>\n{chart}");
        }
        let _ = writeln!(
            index,
            "<table><thead><tr><th>Thread</th><th>Posts</th><th>Depth</th><th>Participants</th><th>Span</th><th>Gaps</th><th>Top themes</th></tr></thead><tbody>\n{rows}</tbody></table>\n</body></html>"
        );
        atomic::write_bytes(
            &self.dir.join("index.html"),
            Durability::Unsynced,
            index.as_bytes(),
        )?;
        Ok(Report { pages: self.pages })
    }
}

fn thread_page(
    set: &PostSet,
    threads: &Threads,
    t: &Thread,
    codes: Option<(&Codebook, &[Vec<Evidence>])>,
    note: Option<&str>,
) -> String {
    // Rows: posts in time order (gaps just before their first reply); columns: branches.
    // A post's row is also its anchor (`#p{row}`): a page depends on its thread alone, not on
    // where the thread's posts sit among the corpus's (which differ batch by batch).
    let order = threads.chronological(t, set);
    let mut row: HashMap<usize, usize> = HashMap::new();
    let mut next_row = 0;
    for &n in &order {
        if let Some((p, _)) = threads.parent(n) {
            if matches!(threads.node(p), Node::Gap(_)) && !row.contains_key(&p.index()) {
                row.insert(p.index(), next_row);
                next_row += 1;
            }
        }
        row.insert(n.index(), next_row);
        next_row += 1;
    }
    let pre = threads.preorder(t);
    for &(n, _) in &pre {
        row.entry(n.index()).or_insert_with(|| {
            next_row += 1;
            next_row - 1
        });
    }
    let mut col: HashMap<usize, usize> = HashMap::new();
    let mut next_col = 0;
    for &(n, _) in &pre {
        let c = match threads.parent(n) {
            Some((p, _)) if threads.children(p).first() == Some(&n) => col[&p.index()],
            Some(_) => {
                next_col += 1;
                next_col
            }
            None => 0,
        };
        col.insert(n.index(), c);
    }
    let (dx, dy) = (28usize, 40usize);
    let width = (next_col + 1) * dx + 40;
    let height = next_row.max(1) * dy + 20;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"reply tree\">\n"
    );
    let pos =
        |n: petgraph::graph::NodeIndex| (20 + col[&n.index()] * dx, 20 + row[&n.index()] * dy);
    for &(n, _) in &pre {
        if let Some((p, _)) = threads.parent(n) {
            let ((x1, y1), (x2, y2)) = (pos(p), pos(n));
            let dash = if matches!(threads.node(p), Node::Gap(_)) {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            };
            let _ = writeln!(
                svg,
                "<path d=\"M{x1} {y1} V{y2} H{x2}\" fill=\"none\" stroke=\"#888\"{dash}/>"
            );
        }
    }
    for &(n, _) in &pre {
        let (x, y) = pos(n);
        match threads.node(n) {
            Node::Post(i) => {
                let p = &set.posts()[i];
                let a = p.author().label();
                let _ = writeln!(
                    svg,
                    "<a href=\"#p{}\"><circle cx=\"{x}\" cy=\"{y}\" r=\"9\" fill=\"{}\"><title>{}</title></circle></a>",
                    row[&n.index()],
                    colour(a),
                    esc(a)
                );
            }
            Node::Gap(g) => {
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"9\" fill=\"none\" stroke=\"#a00\" stroke-dasharray=\"3 2\"><title>missing {}</title></circle>",
                    esc(&threads.gaps[g].id)
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    let mut posts = String::new();
    let mut gaps_written = std::collections::HashSet::new();
    for n in order {
        let Node::Post(i) = threads.node(n) else {
            continue;
        };
        if let Some((parent, _)) = threads.parent(n) {
            if let Node::Gap(g) = threads.node(parent) {
                if gaps_written.insert(g) {
                    let gap = &threads.gaps[g];
                    let _ = writeln!(
                        posts,
                        "<p class=\"gap\">[gap: post {} is missing ({})]</p>",
                        esc(&gap.id),
                        esc(&gap.reason)
                    );
                }
            }
        }
        let p = &set.posts()[i];
        let a = p.author().label();
        // Where the post lives, as text to copy rather than a link to follow: the report makes
        // no request of its own, not even on a click.
        let url = p
            .url()
            .map(|u| format!(" <small class=\"url\">{}</small>", esc(u)))
            .unwrap_or_default();
        let _ = write!(
            posts,
            "<div class=\"post\" id=\"p{}\"><span class=\"who\" style=\"color:{}\">{}</span> <small>{}</small>{url}<br>{}",
            row[&n.index()],
            colour(a),
            esc(a),
            p.created_at().map(|t| format_time(&t)).unwrap_or_default(),
            esc(p.text()).replace('\n', "<br>")
        );
        if let Some((book, ev)) = codes {
            if !ev[i].is_empty() {
                // Each theme with its coder and evidence (`codes::describe`), escaped.
                let parts = super::codes::describe(book, &ev[i], esc);
                let _ = write!(
                    posts,
                    "<br><span class=\"themes\">themes: {}</span>",
                    parts.join("; ")
                );
            }
        }
        posts.push_str("</div>\n");
    }
    let note = note
        .map(|n| format!("<p><em>{}</em></p>", esc(n)))
        .unwrap_or_default();
    let table = codes
        .map(|(book, ev)| theme_table(set, threads, t, book, ev))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<p><a href=\"index.html\">All threads</a></p>\n<h1>{}</h1>\n{note}<p>{} posts, {} participants, depth {}, {} gaps.</p>\n{table}<div class=\"wrap\"><div class=\"tree\">{svg}</div><div class=\"posts\">{posts}</div></div>\n</body></html>\n",
        esc(&t.id),
        esc(&t.id),
        t.posts,
        t.participants,
        t.depth,
        t.gaps
    )
}

/// The thread's themes, as the markdown transcript has them: posts, share, authors, who raised
/// each first and at which depth, and which coders gave it.
fn theme_table(
    set: &PostSet,
    threads: &Threads,
    t: &Thread,
    book: &Codebook,
    ev: &[Vec<Evidence>],
) -> String {
    let r = crate::themes::rollup::rollup(&t.nodes, set, threads, ev);
    let mut out = String::from("<h2>Themes</h2>\n");
    if r.themes.is_empty() {
        let _ = writeln!(
            out,
            "<p>No post in this thread matched a theme of the codebook {}.</p>",
            esc(&book.meta.name)
        );
        return out;
    }
    let coders = super::codes::coders_in_thread(threads, t, ev);
    out.push_str("<table class=\"themetable\"><thead><tr><th>Theme</th><th>Posts</th><th>Share</th><th>Authors</th><th>First raised by</th><th>At depth</th><th>Coded by</th></tr></thead><tbody>\n");
    for th in &r.themes {
        let theme = &book.themes[th.theme];
        let _ = writeln!(
            out,
            "<tr><td>{} (<code>{}</code>)</td><td>{}</td><td>{:.0}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&theme.label),
            esc(&theme.id),
            th.posts,
            th.share * 100.0,
            th.authors,
            esc(&th.first.author),
            th.first.depth,
            super::codes::coded_by(&coders.get(&th.theme).copied().unwrap_or_default())
        );
    }
    let _ = writeln!(
        out,
        "</tbody></table>\n<p class=\"themes\">{} of {} posts matched no theme (codebook {}). {}</p>",
        r.uncoded,
        r.posts,
        esc(&book.meta.name),
        esc(super::codes::LEGEND)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::markdown::tests::{model_coded, HOSTILE_EXAMPLE, HOSTILE_SENTENCE};

    #[test]
    fn semantic_and_learned_codes_show_coder_figure_sentence_and_example_escaped() {
        let (set, threads, book, coding) = model_coded();
        let dir = tempfile::tempdir().unwrap();
        let input = crate::export::Input {
            set: &set,
            threads: &threads,
            selected: &[0],
            codes: Some((&book, &coding.posts)),
            pseudonymised: false,
        };
        let r = write(dir.path(), &input).unwrap();
        assert_eq!(r.pages, 1);
        let name = crate::export::unique_file_names([threads.threads[0].id.as_str()], "html");
        let page = std::fs::read_to_string(dir.path().join(&name[0])).unwrap();
        let (s, x) = (esc(HOSTILE_SENTENCE), esc(HOSTILE_EXAMPLE));
        assert!(
            page.contains(&format!(
                "themes: empowerment (semantic 0.61: “{s}”, learned 0.84: “{s}”, nearest labelled example “{x}”)"
            )),
            "{page}"
        );
        assert!(page.contains("themes: empowerment (“empowered”)"), "{page}");
        assert!(
            page.contains("<td>ana</td><td>0</td><td>pattern 1, semantic 1, learned 1</td>"),
            "{page}"
        );
        assert!(page.contains("<h2>Themes</h2>"));
        // The hostile text is text: no tag, no attribute of its own.
        assert!(
            !page.contains("<script") && !page.contains("<img"),
            "{page}"
        );
        assert!(page.contains("&lt;script&gt;"));
        // Without codes, neither codes nor the table.
        let input = crate::export::Input {
            set: &set,
            threads: &threads,
            selected: &[0],
            codes: None,
            pseudonymised: false,
        };
        write(dir.path(), &input).unwrap();
        let page = std::fs::read_to_string(dir.path().join(&name[0])).unwrap();
        assert!(!page.contains("themes:") && !page.contains("<h2>Themes</h2>"));
    }
}
