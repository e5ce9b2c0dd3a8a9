//! Markdown transcripts: one file per thread and an `index.md` linking them all.
//!
//! The chronological layout writes a thread the way people rebuild one by hand (seed 002):
//! one `**handle**: text` paragraph per post, in time order, the text as written. The tree
//! layout nests each reply under the post it answers, so branches can be read apart.
//!
//! Honesty over prettiness: a missing parent is written where it belongs, with its id and why
//! it is missing; content warnings stand before the text they warn about; media descriptions
//! are kept. Post text is escaped so that it reads the same in any CommonMark renderer and can
//! never become a heading, HTML, a list or a link that its author did not write as text.
//!
//! Nesting in the tree layout stops at [`MAX_NEST`] levels: real chains run thousands of replies
//! deep, and indenting each level would make a file grow with the square of the chain. Deeper
//! replies stay at the last level and say which depth they are at and whom they answer.

use super::atomic::{self, Durability};
use crate::corpus::{PackedPost, PostSet};
use crate::model::format_time;
use crate::thread::{EdgeKind, Node, Thread, Threads};
use anyhow::{Context, Result};
use petgraph::graph::NodeIndex;
use rayon::prelude::*;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Deepest list nesting in the tree layout.
pub const MAX_NEST: usize = 12;

/// How posts are laid out in a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Layout {
    /// One paragraph per post, in time order.
    #[default]
    Chronological,
    /// Replies nested under the post they answer.
    Tree,
}

/// What was written.
/// Threads whose theme rollups are held at a time while their transcripts are written.
const ROLLUP_CHUNK: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub files: usize,
    pub threads: usize,
    pub posts: usize,
    pub index: PathBuf,
    /// Markdown files already in the directory that this export did not write (an earlier
    /// export's transcripts): left alone, but the researcher should know they are there.
    pub stale: usize,
}

/// The themes to show in transcripts: each post's codes with their evidence, and a theme table
/// per thread.
pub struct Themes<'a> {
    pub book: &'a crate::themes::Codebook,
    /// Each post's codes, indexed like `set.posts()`.
    pub posts: &'a [Vec<crate::themes::Evidence>],
    /// The rollups of (at least) the threads shown, sorted by thread index.
    pub threads: &'a [crate::themes::ThreadCoding],
}

impl Themes<'_> {
    fn of(&self, ti: usize) -> Option<&crate::themes::ThreadCoding> {
        self.threads
            .binary_search_by_key(&ti, |c| c.thread)
            .ok()
            .map(|k| &self.threads[k])
    }
}

/// Write one markdown file per thread of `input.selected` into `dir`, and `index.md` linking
/// them; with codes, each post's codes under it and a theme table per thread (rolled up here
/// from the codes, so that they are the codes every other format writes).
pub fn write(
    dir: &Path,
    input: &super::Input,
    layout: Layout,
    progress: &indicatif::ProgressBar,
) -> Result<Summary> {
    let threads = input.threads;
    let ids: Vec<&str> = input
        .selected
        .iter()
        .map(|&ti| threads.threads[ti].id.as_str())
        .collect();
    let mut w = Writer::new(dir, layout, &ids, input.note(), input.codes.is_some())?;
    progress.set_length(ids.len() as u64);
    let at: Vec<(usize, usize)> = input.selected.iter().copied().enumerate().collect();
    w.write_threads(input, &at, progress)?;
    let rows: Vec<IndexRow> = input
        .selected
        .iter()
        .map(|&ti| IndexRow::of(&threads.threads[ti]))
        .collect();
    w.finish(&rows)
}

/// What `index.md` says of one thread: the columns of `rethread threads` it shows.
pub struct IndexRow<'a> {
    pub id: &'a str,
    pub platform: crate::model::Platform,
    pub posts: usize,
    pub participants: usize,
    pub gaps: usize,
    pub depth: usize,
    pub start: Option<chrono::DateTime<chrono::Utc>>,
    pub end: Option<chrono::DateTime<chrono::Utc>>,
}

impl<'a> IndexRow<'a> {
    pub fn of(t: &'a Thread) -> IndexRow<'a> {
        IndexRow {
            id: &t.id,
            platform: t.platform,
            posts: t.posts,
            participants: t.participants,
            gaps: t.gaps,
            depth: t.depth,
            start: t.start,
            end: t.end,
        }
    }
}

/// A markdown export in progress: the file names of every thread to write (fixed first, in
/// output order, so that they never depend on which threads were at hand when), transcripts
/// written batch by batch, then the index. [`write`] does it all at once from posts in memory;
/// a bounded-memory export hands it one batch of threads at a time (see `thread::batched`).
pub struct Writer<'d> {
    dir: &'d Path,
    layout: Layout,
    names: Vec<String>,
    note: Option<&'static str>,
    /// With themes: the index's "Top themes" cell of each thread, by output position.
    tops: Option<Vec<String>>,
}

impl<'d> Writer<'d> {
    /// `ids`: the ids of every thread to be written, in output order.
    pub fn new(
        dir: &'d Path,
        layout: Layout,
        ids: &[&str],
        note: Option<&'static str>,
        themed: bool,
    ) -> Result<Writer<'d>> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create output directory", dir.display()))?;
        Ok(Writer {
            dir,
            layout,
            names: super::unique_file_names(ids.iter().copied(), "md"),
            note,
            tops: themed.then(|| vec![String::new(); ids.len()]),
        })
    }

    /// Write the transcripts of these threads: `(output position, index into
    /// input.threads.threads)`. `input.codes` must be given exactly when the writer is themed.
    pub fn write_threads(
        &mut self,
        input: &super::Input,
        at: &[(usize, usize)],
        progress: &indicatif::ProgressBar,
    ) -> Result<()> {
        let (set, threads) = (input.set, input.threads);
        let (note, layout, dir, names) = (self.note, self.layout, self.dir, &self.names);
        // The rollups are made for a slice of the threads at a time, just before their
        // transcripts: each holds quotes (copies of post text), and the whole corpus read into
        // memory (--input) would otherwise hold every thread's at once. A transcript shows the
        // thread's rollup only, so the branches' are not made.
        for chunk in at.chunks(ROLLUP_CHUNK) {
            let mut order: Vec<usize> = chunk.iter().map(|&(_, ti)| ti).collect();
            order.sort_unstable();
            order.dedup();
            let rollups: Vec<crate::themes::ThreadCoding> = match input.codes {
                Some((_, posts)) => order
                    .par_iter()
                    .map(|&ti| crate::themes::ThreadCoding {
                        thread: ti,
                        rollup: crate::themes::rollup::rollup(
                            &threads.threads[ti].nodes,
                            set,
                            threads,
                            posts,
                        ),
                        branches: Vec::new(),
                    })
                    .collect(),
                None => Vec::new(),
            };
            let themes = input.codes.map(|(book, posts)| Themes {
                book,
                posts,
                threads: &rollups,
            });
            let themes = themes.as_ref();
            // Rendering is cheap; creating hundreds of thousands of files is not (it is mostly
            // kernel time), so transcripts are rendered and written on all cores.
            chunk
                .par_iter()
                .try_for_each_init(String::new, |buf, &(pos, ti)| -> Result<()> {
                    buf.clear();
                    transcript_with(buf, set, threads, ti, layout, themes);
                    if let Some(note) = note {
                        // After the header's last line, before the posts.
                        insert_note(buf, note);
                    }
                    // Beside the target and renamed into place: a link planted in the directory
                    // is replaced, never written through. Not fsynced: one per transcript would
                    // cost more than the export (see `atomic::Durability`).
                    atomic::write_bytes(
                        &dir.join(&names[pos]),
                        Durability::Unsynced,
                        buf.as_bytes(),
                    )?;
                    progress.inc(1);
                    Ok(())
                })?;
            if let (Some(tops), Some(t)) = (self.tops.as_mut(), themes) {
                for &(pos, ti) in chunk {
                    tops[pos] = top_themes(t, ti);
                }
            }
        }
        Ok(())
    }

    /// Write `index.md`, `rows` being every thread in output order, and say what was written.
    pub fn finish(self, rows: &[IndexRow]) -> Result<Summary> {
        let (dir, names, note) = (self.dir, &self.names, self.note);
        let written: HashSet<&str> = names.iter().map(String::as_str).collect();
        let stale = std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot list", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".md") && name != "index.md" && !written.contains(name.as_ref())
            })
            .count();
        let mut summary = Summary {
            files: rows.len(),
            threads: rows.len(),
            posts: rows.iter().map(|r| r.posts).sum(),
            index: PathBuf::new(),
            stale,
        };
        let gaps: usize = rows.iter().map(|r| r.gaps).sum();
        // The index is streamed to its file: held whole in memory, a million-post corpus's
        // index (tens of MB, doubled while its buffer grows) set the export's peak memory.
        let index_path = dir.join("index.md");
        let tops = self.tops.as_deref();
        let write_index = |index: &mut dyn std::io::Write| -> std::io::Result<()> {
            writeln!(index, "# Transcripts\n")?;
            writeln!(
                index,
                "{} threads, {} posts, {} missing posts marked as gaps. Made by rethread {}.\n",
                summary.threads,
                summary.posts,
                gaps,
                env!("CARGO_PKG_VERSION")
            )?;
            if let Some(note) = note {
                writeln!(index, "*{}*\n", escape_inline(note))?;
            }
            // With themes, the index says what each thread is about too: the whole job on one
            // page.
            let (top_head, top_rule) = match tops {
                Some(_) => (" Top themes |", "---|"),
                None => ("", ""),
            };
            writeln!(
                index,
                "| Thread | Platform | Posts | Participants | Gaps | Depth | Start | End |{top_head}"
            )?;
            writeln!(index, "|---|---|---:|---:|---:|---:|---|---|{top_rule}")?;
            for (pos, (r, name)) in rows.iter().zip(names).enumerate() {
                let top = tops.map(|t| t[pos].as_str()).unwrap_or_default();
                writeln!(
                    index,
                    "| [{}]({name}) | {} | {} | {} | {} | {} | {} | {} |{top}",
                    escape_inline(r.id),
                    r.platform,
                    r.posts,
                    r.participants,
                    r.gaps,
                    r.depth,
                    r.start.as_ref().map(format_time).unwrap_or_default(),
                    r.end.as_ref().map(format_time).unwrap_or_default(),
                )?;
            }
            index.flush()
        };
        atomic::write(&index_path, Durability::Unsynced, |file| {
            Ok(write_index(file)?)
        })
        .with_context(|| format!("{}: cannot write", index_path.display()))?;
        summary.files += 1;
        summary.index = index_path;
        Ok(summary)
    }
}

/// The index cell of a thread's three most raised themes, `label (posts)`, most posts first
/// (ties in codebook order); a cell that says so when no post was coded.
fn top_themes(t: &Themes, ti: usize) -> String {
    let Some(tc) = t.of(ti) else {
        return " |".into();
    };
    let mut top: Vec<&crate::themes::ThemeRollup> = tc.rollup.themes.iter().collect();
    top.sort_by(|a, b| b.posts.cmp(&a.posts).then(a.theme.cmp(&b.theme)));
    let cell: Vec<String> = top
        .iter()
        .take(3)
        .map(|th| {
            format!(
                "{} ({})",
                escape_inline(&t.book.themes[th.theme].label),
                th.posts
            )
        })
        .collect();
    if cell.is_empty() {
        " none |".into()
    } else {
        format!(" {} |", cell.join(", "))
    }
}

/// Put `note` as a last line of a transcript's header list (the first blank line ends it).
fn insert_note(buf: &mut String, note: &str) {
    let line = format!("- Note: {}\n", escape_inline(note));
    match buf
        .find("\n\n")
        .and_then(|title| buf[title + 2..].find("\n\n").map(|k| title + 2 + k + 1))
    {
        Some(at) => buf.insert_str(at, &line),
        None => buf.push_str(&line),
    }
}

/// The transcript of one thread.
pub fn transcript(
    out: &mut String,
    set: &PostSet,
    threads: &Threads,
    thread: &Thread,
    layout: Layout,
) {
    header(out, set, threads, thread);
    match layout {
        Layout::Chronological => chronological(out, set, threads, thread, None),
        Layout::Tree => tree(out, set, threads, thread, None),
    }
}

/// The transcript of thread `ti` (an index into `threads.threads`), with its themes when
/// `themes` is given.
pub fn transcript_with(
    out: &mut String,
    set: &PostSet,
    threads: &Threads,
    ti: usize,
    layout: Layout,
    themes: Option<&Themes>,
) {
    let thread = &threads.threads[ti];
    header(out, set, threads, thread);
    if let Some(t) = themes {
        theme_table(out, threads, ti, t);
    }
    let codes = themes.map(|t| (t.book, t.posts));
    match layout {
        Layout::Chronological => chronological(out, set, threads, thread, codes),
        Layout::Tree => tree(out, set, threads, thread, codes),
    }
}

/// A post's codes and the codebook they refer to.
type Codes<'a> = Option<(
    &'a crate::themes::Codebook,
    &'a [Vec<crate::themes::Evidence>],
)>;

/// The table of a thread's themes, before its posts.
fn theme_table(out: &mut String, threads: &Threads, ti: usize, t: &Themes) {
    // `code_corpus` codes every thread, in order.
    let Some(tc) = t.of(ti) else {
        return;
    };
    let r = &tc.rollup;
    let _ = writeln!(out, "## Themes\n");
    if r.themes.is_empty() {
        let _ = writeln!(
            out,
            "No post in this thread matched a theme of the codebook {:?}.\n",
            t.book.meta.name
        );
        return;
    }
    // Which coders gave each theme, so that a theme carried by a model alone stands out.
    let coders = super::codes::coders_in_thread(threads, &threads.threads[ti], t.posts);
    let _ = writeln!(
        out,
        "| Theme | Posts | Share | Authors | First raised by | At depth | Coded by |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|---:|---|");
    for th in &r.themes {
        let theme = &t.book.themes[th.theme];
        let _ = writeln!(
            out,
            "| {} (`{}`) | {} | {:.0}% | {} | {} | {} | {} |",
            escape_inline(&theme.label),
            theme.id.replace('`', ""),
            th.posts,
            th.share * 100.0,
            th.authors,
            escape_inline(&th.first.author),
            th.first.depth,
            super::codes::coded_by(&coders.get(&th.theme).copied().unwrap_or_default())
        );
    }
    let _ = writeln!(
        out,
        "\n{} of {} posts matched no theme (codebook {}). {}\n",
        r.uncoded,
        r.posts,
        escape_inline(&t.book.meta.name),
        escape_inline(super::codes::LEGEND)
    );
}

fn header(out: &mut String, set: &PostSet, threads: &Threads, thread: &Thread) {
    let _ = writeln!(out, "# Thread {}\n", escape_inline(&thread.id));
    let _ = writeln!(out, "- Platform: {}", thread.platform);
    let root = match threads.node(thread.root) {
        Node::Post(i) => {
            let p = &set.posts()[i];
            let link = p.url().or(p.uri()).map(link).unwrap_or_default();
            format!(
                "{} by {} {}",
                escape_inline(p.id()),
                escape_inline(p.author().label()),
                link
            )
        }
        Node::Gap(g) => {
            let gap = &threads.gaps[g];
            format!(
                "{} (missing: {})",
                escape_inline(&gap.id),
                escape_inline(&gap.reason)
            )
        }
    };
    let _ = writeln!(out, "- Root: {}", root.trim_end());
    let _ = writeln!(out, "- Posts: {}", thread.posts);
    let _ = writeln!(out, "- Participants: {}", thread.participants);
    let span = match (&thread.start, &thread.end) {
        (Some(s), Some(e)) => format!("{} – {}", format_time(s), format_time(e)),
        _ => "unknown".into(),
    };
    let _ = writeln!(out, "- Time span: {span}");
    let _ = writeln!(
        out,
        "- Depth: {} (widest level: {} posts)",
        thread.depth, thread.breadth
    );
    let reposts: u64 = thread
        .nodes
        .iter()
        .filter_map(|&n| match threads.node(n) {
            Node::Post(i) => threads.reposts.get(&i).copied(),
            Node::Gap(_) => None,
        })
        .sum();
    if reposts > 0 {
        let _ = writeln!(out, "- Reposts: {reposts}");
    }
    if thread.gaps == 0 {
        let _ = writeln!(out, "- Gaps: none: every parent is in the corpus");
    } else {
        let _ = writeln!(
            out,
            "- Gaps: {} missing posts, marked where they belong",
            thread.gaps
        );
    }
    out.push('\n');
}

fn chronological(
    out: &mut String,
    set: &PostSet,
    threads: &Threads,
    thread: &Thread,
    codes: Codes,
) {
    let posts = set.posts();
    let mut gaps_written: HashSet<usize> = HashSet::new();
    for n in threads.chronological(thread, set) {
        let Node::Post(i) = threads.node(n) else {
            continue;
        };
        // A missing parent is marked just before the first reply to it.
        if let Some((parent, _)) = threads.parent(n) {
            if let Node::Gap(g) = threads.node(parent) {
                if gaps_written.insert(g) {
                    gap_line(out, threads, parent);
                    out.push('\n');
                }
            }
        }
        post_paragraph(out, &posts[i], "", codes.map(|(b, c)| (b, &c[i][..])));
        out.push('\n');
        // A missing post nothing replies to (a reply the source hid, replies a server was
        // still fetching) is marked right after the post it belongs under.
        let mut leaves: Vec<(NodeIndex, usize)> = threads
            .graph
            .neighbors_directed(n, petgraph::Direction::Outgoing)
            .filter_map(|c| match threads.node(c) {
                Node::Gap(g) => Some((c, g)),
                Node::Post(_) => None,
            })
            .filter(|&(c, _)| {
                threads
                    .graph
                    .neighbors_directed(c, petgraph::Direction::Outgoing)
                    .next()
                    .is_none()
            })
            .collect();
        leaves.sort_by(|a, b| threads.gaps[a.1].id.cmp(&threads.gaps[b.1].id));
        for (c, g) in leaves {
            if gaps_written.insert(g) {
                gap_line(out, threads, c);
                out.push('\n');
            }
        }
    }
}

fn tree(out: &mut String, set: &PostSet, threads: &Threads, thread: &Thread, codes: Codes) {
    let posts = set.posts();
    for (n, depth) in threads.preorder(thread) {
        let level = depth.min(MAX_NEST);
        let indent = "  ".repeat(level);
        out.push_str(&indent);
        out.push_str("- ");
        let content_indent = format!("{indent}  ");
        if depth > MAX_NEST {
            let to = threads
                .parent(n)
                .map(|(p, _)| match threads.node(p) {
                    Node::Post(j) => escape_inline(posts[j].author().label()),
                    Node::Gap(g) => format!("missing post {}", escape_inline(&threads.gaps[g].id)),
                })
                .unwrap_or_default();
            let _ = write!(out, "*↳ depth {depth}, replying to {to}:* ");
        }
        match threads.node(n) {
            Node::Post(i) => {
                if let Some((_, EdgeKind::Quote)) = threads.parent(n) {
                    out.push_str("*(quotes the post above)* ");
                }
                post_paragraph(
                    out,
                    &posts[i],
                    &content_indent,
                    codes.map(|(b, c)| (b, &c[i][..])),
                );
            }
            Node::Gap(_) => gap_line(out, threads, n),
        }
    }
}

/// The marker for a missing post (`node` is its gap node).
fn gap_line(out: &mut String, threads: &Threads, node: NodeIndex) {
    let Node::Gap(g) = threads.node(node) else {
        return;
    };
    let gap = &threads.gaps[g];
    let how = match threads.parent(node) {
        Some((_, EdgeKind::Conversation)) => {
            "; the replies between it and the conversation's first post are unknown"
        }
        _ => "",
    };
    let _ = writeln!(
        out,
        "*\\[gap: post {} is missing ({}){}\\]*",
        escape_inline(&gap.id),
        escape_inline(&gap.reason),
        how
    );
}

/// `**handle**: text`, with the content warning first and media descriptions after.
/// Continuation lines are indented by `indent` (inside a list item) and joined with hard line
/// breaks, so a multi-line post stays one paragraph.
fn post_paragraph(
    out: &mut String,
    p: &PackedPost,
    indent: &str,
    codes: Option<(&crate::themes::Codebook, &[crate::themes::Evidence])>,
) {
    let _ = write!(out, "**{}**: ", escape_inline(p.author().label()));
    if let Some(cw) = p.content_warning() {
        let _ = write!(out, "*CW: {}* — ", escape_inline(cw));
    }
    let mut text = escape_block(p.text(), indent);
    for alt in p.media_alt() {
        if !text.is_empty() {
            text.push(' ');
        }
        let _ = write!(
            text,
            "*(media: {})*",
            escape_inline(&alt.replace(['\n', '\r'], " "))
        );
    }
    if text.is_empty() {
        text.push_str("*(no text)*");
    }
    out.push_str(&text);
    if let Some((book, ev)) = codes.filter(|(_, ev)| !ev.is_empty()) {
        // The codes on a line of their own in the same paragraph: theme ids, each with its
        // evidence (the words that matched, quoted as written; a model coder's sentence and
        // figure), see `codes::describe`.
        let parts = super::codes::describe(book, ev, escape_inline);
        let _ = write!(out, "\\\n{indent}*themes: {}*", parts.join("; "));
    }
    out.push('\n');
}

/// A link to a URL from the data, written as an autolink only when it is a plain http(s) URL
/// that cannot break out of the `<...>`; anything else is shown as escaped text.
fn link(url: &str) -> String {
    let plain = (url.starts_with("https://") || url.starts_with("http://"))
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '\\' | '`'));
    if plain {
        format!("<{url}>")
    } else {
        escape_inline(url)
    }
}

/// Escape text for use inside a markdown line: every character that could start markup
/// (emphasis, code, links, images, HTML, entities, tables, strikethrough) gets a backslash,
/// and line breaks become spaces.
pub fn escape_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '!' | '|' | '~' | '&' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Escape multi-line post text as one paragraph: each line escaped inline, markers that only
/// mean something at the start of a line (`-`, `+`, `=`, `1.`) escaped there, and lines joined
/// by hard breaks (`\` at the end of a line). Blank lines (paragraph breaks in the post) are kept
/// as an empty hard-broken line so the post does not split into separate paragraphs.
pub fn escape_block(text: &str, indent: &str) -> String {
    let lines: Vec<&str> = text.trim_end().split('\n').collect();
    let mut out = String::with_capacity(text.len() + 16);
    for (k, line) in lines.iter().enumerate() {
        let line = line.trim_end_matches('\r');
        if k > 0 {
            out.push_str("\\\n");
            out.push_str(indent);
        }
        // Leading spaces would be taken as indentation (code blocks, list nesting).
        let body = line.trim_start();
        let mut escaped = escape_inline(body);
        if let Some(first) = escaped.chars().next() {
            if matches!(first, '-' | '+' | '=') {
                escaped.insert(0, '\\');
            } else if first.is_ascii_digit() {
                let digits = escaped.chars().take_while(|c| c.is_ascii_digit()).count();
                if matches!(escaped[digits..].chars().next(), Some('.') | Some(')')) {
                    escaped.insert(digits, '\\');
                }
            }
        }
        out.push_str(&escaped);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
