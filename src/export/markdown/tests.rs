use super::*;
use crate::model::{parse_time, Platform, Post};
use crate::thread::{build, Options};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};

fn post(id: &str, author: &str, minute: u32, reply_to: Option<&str>, text: &str) -> Post {
    let mut p = Post::new(Platform::Mastodon, id);
    p.author_mut().handle = Some(author.into());
    p.author_mut().id = Some(author.into());
    p.created_at = parse_time(&format!("2020-01-01T00:{minute:02}:00Z"));
    p.reply_to = reply_to.map(str::to_string);
    p.text = text.into();
    p
}

fn render(posts: Vec<Post>, layout: Layout) -> String {
    let mut set = PostSet::new();
    for p in posts {
        set.add(p);
    }
    let threads = build(&set, &Options::default());
    let mut out = String::new();
    for t in &threads.threads {
        transcript(&mut out, &set, &threads, t, layout);
    }
    out
}

/// The markup a CommonMark parser (with GFM tables and strikethrough) finds in a document.
fn structure(md: &str) -> Vec<String> {
    let mut opts = pulldown_cmark::Options::empty();
    opts.insert(pulldown_cmark::Options::ENABLE_TABLES);
    opts.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    Parser::new_ext(md, opts)
        .filter_map(|e| match e {
            Event::Start(Tag::Heading { level, .. }) => Some(format!("heading {level:?}")),
            Event::Start(Tag::Link { dest_url, .. }) => Some(format!("link {dest_url}")),
            Event::Start(Tag::Image { .. }) => Some("image".into()),
            Event::Start(Tag::BlockQuote(_)) => Some("blockquote".into()),
            Event::Start(Tag::List(_)) => Some("list".into()),
            Event::Start(Tag::CodeBlock(_)) => Some("codeblock".into()),
            Event::Start(Tag::Table(_)) => Some("table".into()),
            Event::Start(Tag::Strikethrough) => Some("strike".into()),
            Event::Html(h) | Event::InlineHtml(h) => Some(format!("html {h}")),
            Event::Code(c) => Some(format!("code {c}")),
            Event::Rule => Some("rule".into()),
            _ => None,
        })
        .collect()
}

/// Plain text of each paragraph.
fn paragraphs(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for e in Parser::new(md) {
        match e {
            Event::Start(Tag::Paragraph) => cur = Some(String::new()),
            Event::End(TagEnd::Paragraph) => out.extend(cur.take()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cur.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(c) = cur.as_mut() {
                    c.push('\n');
                }
            }
            _ => {}
        }
    }
    out
}

const HOSTILE: &str = "# Not a heading\n<script>alert(1)</script> &amp; <b>bold</b>\n[click me](http://evil.example) ![img](x.png)\n- not a list\n1. not a list\n---\n> not a quote\n    not code\n`not code` ~~no strike~~ | a | b |\n\nsecond paragraph *not emphasis* _nor this_ \\ backslash";

#[test]
fn post_text_cannot_inject_markup() {
    let md = render(
        vec![post("1", "evil_user", 0, None, HOSTILE)],
        Layout::Chronological,
    );
    let found: Vec<String> = structure(&md)
        .into_iter()
        .filter(|s| !s.starts_with("heading H1") && s != "list" && !s.starts_with("link https://"))
        .collect();
    assert!(
        found.is_empty(),
        "post text produced markup: {found:?}\n{md}"
    );
    // The only heading is ours; the only list is our header's.
    assert_eq!(
        structure(&md)
            .iter()
            .filter(|s| s.starts_with("heading"))
            .count(),
        1
    );
    assert_eq!(structure(&md).iter().filter(|s| *s == "list").count(), 1);
    // And the text reads exactly as written, as one paragraph.
    let paras = paragraphs(&md);
    let body = paras
        .iter()
        .find(|p| p.starts_with("evil_user: "))
        .expect("post paragraph");
    // Leading spaces of a line are dropped (they would be taken as indentation).
    let want = HOSTILE.replace("\n    ", "\n");
    assert_eq!(body.trim_start_matches("evil_user: "), want);
}

#[test]
fn hostile_text_in_the_tree_layout_is_escaped_too() {
    let md = render(
        vec![
            post("1", "a", 0, None, "root"),
            post("2", "b", 1, Some("1"), HOSTILE),
        ],
        Layout::Tree,
    );
    let found: Vec<String> = structure(&md)
        .into_iter()
        .filter(|s| !s.starts_with("heading H1") && s != "list")
        .collect();
    assert!(found.is_empty(), "{found:?}\n{md}");
}

#[test]
fn chronological_layout_is_one_line_per_post_in_time_order() {
    let md = render(
        vec![
            post("1", "ann", 0, None, "first @bob"),
            post("3", "ann", 2, Some("2"), "third"),
            post("2", "bob", 1, Some("1"), "@ann second"),
        ],
        Layout::Chronological,
    );
    let paras = paragraphs(&md);
    let lines: Vec<&str> = paras
        .iter()
        .map(String::as_str)
        .filter(|p| p.contains(": "))
        .collect();
    assert_eq!(
        lines,
        vec!["ann: first @bob", "bob: @ann second", "ann: third"]
    );
    assert!(md.contains("- Posts: 3"));
    assert!(md.contains("- Participants: 2"));
    assert!(md.contains("- Time span: 2020-01-01T00:00:00.000Z – 2020-01-01T00:02:00.000Z"));
    assert!(md.contains("- Gaps: none"));
}

#[test]
fn gaps_content_warnings_and_media_are_shown() {
    let mut p = post("5", "cat", 3, Some("404"), "the reply");
    p.content_warning = Some("politics".into());
    p.media_alt = vec!["a photo of a queue".into()];
    let md = render(vec![p], Layout::Chronological);
    let paras = paragraphs(&md);
    let gap = paras
        .iter()
        .position(|l| l.contains("[gap: post 404 is missing (not in corpus)]"))
        .expect(&md);
    let reply = paras.iter().position(|l| l.starts_with("cat: ")).unwrap();
    assert_eq!(
        reply,
        gap + 1,
        "the gap marker stands just before the reply"
    );
    assert_eq!(
        paras[reply],
        "cat: CW: politics — the reply (media: a photo of a queue)"
    );
    assert!(md.contains("- Gaps: 1 missing posts"));
}

#[test]
fn tree_layout_nests_replies_under_their_parent() {
    let md = render(
        vec![
            post("1", "a", 0, None, "root"),
            post("2", "b", 1, Some("1"), "left"),
            post("3", "c", 2, Some("1"), "right"),
            post("4", "d", 3, Some("2"), "under left"),
        ],
        Layout::Tree,
    );
    let body: Vec<&str> = md
        .lines()
        .filter(|l| l.trim_start().starts_with("- **"))
        .collect();
    assert_eq!(
        body,
        vec![
            "- **a**: root",
            "  - **b**: left",
            "    - **d**: under left",
            "  - **c**: right"
        ]
    );
}

#[test]
fn deep_chains_stop_nesting_and_say_their_depth() {
    let mut posts = vec![post("0", "a", 0, None, "p0")];
    for i in 1..40 {
        posts.push(post(
            &i.to_string(),
            if i % 2 == 0 { "a" } else { "b" },
            0,
            Some(&(i - 1).to_string()),
            &format!("p{i}"),
        ));
    }
    let md = render(posts, Layout::Tree);
    let max_indent = md
        .lines()
        .map(|l| l.len() - l.trim_start().len())
        .max()
        .unwrap();
    assert_eq!(max_indent, 2 * MAX_NEST);
    assert!(
        md.contains("*↳ depth 39, replying to a:* **b**: p39"),
        "{md}"
    );
    // Still a single list of 40 items as CommonMark sees it.
    let items = Parser::new(&md)
        .filter(|e| matches!(e, Event::Start(Tag::Item)))
        .count();
    assert_eq!(items, 40 + 7, "40 posts plus the 7 header lines");
}

#[test]
fn files_stay_inside_the_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut set = PostSet::new();
    for id in ["../../escape", "/etc/passwd", "a/b", "index", "ok"] {
        set.add(post(id, "x", 0, None, "text"));
    }
    let threads = build(&set, &Options::default());
    let all: Vec<usize> = (0..threads.threads.len()).collect();
    let input = crate::export::Input {
        set: &set,
        threads: &threads,
        selected: &all,
        codes: None,
        pseudonymised: false,
    };
    let summary = write(
        &out,
        &input,
        Layout::Chronological,
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(summary.files, 6);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.contains(&"index.md".to_string()));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing written beside out/"
    );
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    let links: Vec<String> = structure(&index)
        .into_iter()
        .filter(|s| s.starts_with("link"))
        .collect();
    assert_eq!(links.len(), 5, "{index}");
    for l in links {
        let target = l.trim_start_matches("link ");
        assert!(out.join(target).is_file(), "index links to {target}");
    }
}

/// A model coder for tests: gives the first post a semantic and a learned code whose sentence
/// and example are hostile markup, as model evidence quoted from strangers' posts can be.
pub(crate) struct HostileModelCoder;

pub(crate) const HOSTILE_SENTENCE: &str =
    "<script>alert(1)</script> *bold* [click](http://evil.example) | pipe";
pub(crate) const HOSTILE_EXAMPLE: &str = "# heading & `code` ![img](http://evil.example/i.png)";

impl crate::themes::PostCoder for HostileModelCoder {
    fn code(&self, index: usize, text: &str) -> Vec<crate::themes::Evidence> {
        if index != 0 {
            return Vec::new();
        }
        let n = text.chars().count();
        let base =
            crate::themes::Evidence::pattern(0, String::new(), HOSTILE_SENTENCE.into(), 0, n);
        vec![
            crate::themes::Evidence {
                coder: crate::themes::CoderKind::Semantic,
                similarity: Some(0.6149),
                ..base.clone()
            },
            crate::themes::Evidence {
                coder: crate::themes::CoderKind::Learned,
                probability: Some(0.8351),
                example: Some(HOSTILE_EXAMPLE.into()),
                ..base
            },
        ]
    }
}

pub(crate) const MODEL_BOOK: &str = r#"
[meta]
name = "model-test"
[[theme]]
id = "empowerment"
label = "Empowerment"
patterns = ["empower*"]
"#;

/// Two posts (a root with a hostile text and a reply that a pattern codes), coded by the
/// patterns and by [`HostileModelCoder`].
pub(crate) fn model_coded() -> (
    PostSet,
    crate::thread::Threads,
    crate::themes::Codebook,
    crate::themes::Coding,
) {
    let mut set = PostSet::new();
    set.add(post("1", "ana", 1, None, HOSTILE_SENTENCE));
    set.add(post("2", "bo", 2, Some("1"), "they empowered me"));
    let threads = build(&set, &Options::default());
    let book = crate::themes::Codebook::parse(MODEL_BOOK, "test").unwrap();
    let coder = crate::themes::Coder::new(&book).unwrap();
    let coding = crate::themes::code_corpus_with(&set, &threads, &coder, &[&HostileModelCoder]);
    (set, threads, book, coding)
}

#[test]
fn semantic_and_learned_codes_show_coder_figure_sentence_and_example_escaped() {
    let (set, threads, book, coding) = model_coded();
    let themes = Themes {
        book: &book,
        posts: &coding.posts,
        threads: &coding.threads,
    };
    for layout in [Layout::Chronological, Layout::Tree] {
        let mut md = String::new();
        transcript_with(&mut md, &set, &threads, 0, layout, Some(&themes));
        let sentence = escape_inline(HOSTILE_SENTENCE);
        let example = escape_inline(HOSTILE_EXAMPLE);
        assert!(
            md.contains(&format!(
                "*themes: empowerment (semantic 0.61: “{sentence}”, learned 0.84: “{sentence}”, nearest labelled example “{example}”)*"
            )),
            "{md}"
        );
        assert!(md.contains("*themes: empowerment (“empowered”)*"), "{md}");
        // The theme table says which coders gave the theme, to how many posts.
        assert!(
            md.contains("| Empowerment (`empowerment`) | 2 | 100% | 2 | ana | 0 | pattern 1, semantic 1, learned 1 |"),
            "{md}"
        );
        // Nothing of the sentence or the example became markup: the only structure is the
        // header list, the theme table with the theme's id as code (and the tree layout's list).
        let found = structure(&md);
        assert!(
            found.iter().all(|s| matches!(
                s.as_str(),
                "heading H1" | "heading H2" | "list" | "table" | "code empowerment"
            )),
            "{found:?}\n{md}"
        );
    }
}

/// The rollups are made a slice of [`ROLLUP_CHUNK`] threads at a time: a corpus of more threads
/// than that, written in one call (as from memory), gives the same transcripts and index as the
/// same threads written one call per thread (as a tiny batch would), in a shuffled output order
/// so that a slice holds threads from all over the corpus.
#[test]
fn rollups_made_a_slice_at_a_time_give_the_same_files() {
    let mut set = PostSet::new();
    let n = ROLLUP_CHUNK + 5;
    for i in 0..n {
        let root = format!("r{i}");
        let text = if i % 3 == 0 {
            "staff are empowered to fix it"
        } else {
            "nothing to see"
        };
        set.add(post(
            &root,
            &format!("a{}", i % 7),
            (i % 60) as u32,
            None,
            text,
        ));
        if i % 2 == 0 {
            let reply = format!("c{i}");
            set.add(post(
                &reply,
                "bo",
                ((i + 1) % 60) as u32,
                Some(&root),
                "empowerment, yes",
            ));
        }
    }
    let threads = build(&set, &Options::default());
    assert_eq!(threads.threads.len(), n);
    let book = crate::themes::Codebook::parse(MODEL_BOOK, "test").unwrap();
    let coder = crate::themes::Coder::new(&book).unwrap();
    let codes = crate::themes::code_posts_with(&set, &coder, &[]);
    // A fixed shuffle of the threads: every 7th, from each start.
    let selected: Vec<usize> = (0..7).flat_map(|s| (s..n).step_by(7)).collect();
    let input = crate::export::Input {
        set: &set,
        threads: &threads,
        selected: &selected,
        codes: Some((&book, &codes)),
        pseudonymised: false,
    };
    let bar = indicatif::ProgressBar::hidden();
    let dir = tempfile::tempdir().unwrap();
    let (whole, single) = (dir.path().join("whole"), dir.path().join("single"));
    write(&whole, &input, Layout::Chronological, &bar).unwrap();
    let ids: Vec<&str> = selected
        .iter()
        .map(|&ti| threads.threads[ti].id.as_str())
        .collect();
    let mut w = Writer::new(&single, Layout::Chronological, &ids, None, true).unwrap();
    for (pos, &ti) in selected.iter().enumerate() {
        w.write_threads(&input, &[(pos, ti)], &bar).unwrap();
    }
    let rows: Vec<IndexRow> = selected
        .iter()
        .map(|&ti| IndexRow::of(&threads.threads[ti]))
        .collect();
    w.finish(&rows).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&whole)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), n + 1);
    assert_eq!(std::fs::read_dir(&single).unwrap().count(), n + 1);
    let mut themed = 0;
    for name in &names {
        let a = std::fs::read_to_string(whole.join(name)).unwrap();
        let b = std::fs::read_to_string(single.join(name)).unwrap();
        assert_eq!(a, b, "{name:?}");
        themed += usize::from(a.contains("Empowerment"));
    }
    // Two threads in three carry the theme (the replies and every third root); index.md too.
    assert!(themed > n / 2, "{themed} of {n} files name the theme");
}
