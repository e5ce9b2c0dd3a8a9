use super::*;
use crate::model::{parse_time, Missing, Post};

fn post(id: &str, author: &str, minute: u32, reply_to: Option<&str>) -> Post {
    let mut p = Post::new(Platform::Twitter, id);
    p.author_mut().id = Some(author.into());
    p.author_mut().handle = Some(author.into());
    p.created_at = parse_time(&format!("2020-01-01T00:{minute:02}:00Z"));
    p.reply_to = reply_to.map(str::to_string);
    p.text = format!("post {id}");
    p
}

fn set_of(posts: Vec<Post>) -> PostSet {
    let mut s = PostSet::new();
    for p in posts {
        s.add(p);
    }
    s
}

fn ids(t: &Threads, set: &PostSet, nodes: &[NodeIndex]) -> Vec<String> {
    nodes
        .iter()
        .map(|&n| match t.node(n) {
            Node::Post(i) => set.posts()[i].id().to_string(),
            Node::Gap(g) => format!("gap:{}", t.gaps[g].id),
        })
        .collect()
}

#[test]
fn a_branching_thread_has_its_metrics() {
    let set = set_of(vec![
        post("1", "a", 0, None),
        post("2", "b", 1, Some("1")),
        post("3", "c", 2, Some("1")),
        post("4", "a", 3, Some("2")),
        post("5", "b", 4, Some("4")),
        post("9", "z", 9, None),
    ]);
    let t = build(&set, &Options::default());
    assert_eq!(t.threads.len(), 2);
    let th = &t.threads[0];
    assert_eq!((th.id.as_str(), th.root_id.as_str()), ("twitter-1", "1"));
    assert_eq!(
        (th.posts, th.gaps, th.depth, th.breadth, th.participants),
        (5, 0, 3, 2, 3)
    );
    assert_eq!(th.start, parse_time("2020-01-01T00:00:00Z"));
    assert_eq!(th.end, parse_time("2020-01-01T00:04:00Z"));
    let pre: Vec<_> = t
        .preorder(th)
        .into_iter()
        .map(|(n, d)| (ids(&t, &set, &[n])[0].clone(), d))
        .collect();
    assert_eq!(
        pre,
        vec![
            ("1".into(), 0),
            ("2".into(), 1),
            ("4".into(), 2),
            ("5".into(), 3),
            ("3".into(), 1)
        ]
    );
    assert_eq!(
        ids(&t, &set, &t.chronological(th, &set)),
        vec!["1", "2", "3", "4", "5"]
    );
    assert_eq!(t.threads[1].id, "twitter-9");
}

#[test]
fn a_missing_parent_becomes_one_shared_gap_with_its_reason() {
    let mut set = set_of(vec![
        post("2", "b", 1, Some("1")),
        post("3", "c", 2, Some("1")),
        post("4", "d", 3, Some("0")),
    ]);
    set.add_missing(Missing {
        platform: Platform::Twitter,
        id: "0".into(),
        reason: "Not Found Error: deleted".into(),
        reply_to: None,
    });
    let t = build(&set, &Options::default());
    assert_eq!(t.threads.len(), 2);
    let th = t.threads.iter().find(|th| th.root_id == "1").unwrap();
    assert_eq!((th.posts, th.gaps, th.depth), (2, 1, 1));
    assert!(matches!(t.node(th.root), Node::Gap(_)));
    let reasons: Vec<_> = t
        .gaps
        .iter()
        .map(|g| (g.id.as_str(), g.reason.as_str()))
        .collect();
    assert!(reasons.contains(&("1", "not in corpus")));
    assert!(reasons.contains(&("0", "Not Found Error: deleted")));
}

/// A reply the source shows as hidden (Bluesky's `blockedPost`) is a gap under its parent,
/// though nothing replies to it; a missing post whose parent is not here makes no thread, and
/// one the collection left out by choice is no gap.
#[test]
fn a_hidden_reply_is_a_gap_under_its_parent() {
    let mut set = set_of(vec![post("1", "a", 0, None), post("2", "b", 1, Some("1"))]);
    for (id, parent, reason) in [
        ("3", "1", "blocked"),
        ("9", "404", "blocked"),
        ("5", "2", "left out: author opted out (#nobot in profile)"),
    ] {
        set.add_missing(Missing {
            platform: Platform::Twitter,
            id: id.into(),
            reason: reason.into(),
            reply_to: Some(parent.into()),
        });
    }
    let t = build(&set, &Options::default());
    assert_eq!(t.threads.len(), 1);
    let th = &t.threads[0];
    assert_eq!((th.posts, th.gaps, th.depth), (2, 1, 1));
    let kids = t.children(th.root);
    assert_eq!(kids.len(), 2);
    assert!(kids.iter().any(|&k| matches!(t.node(k), Node::Gap(_))));
    assert_eq!(t.gaps.len(), 1);
    assert_eq!(
        (t.gaps[0].id.as_str(), t.gaps[0].reason.as_str()),
        ("3", "blocked")
    );
}

#[test]
fn a_gap_hangs_under_its_conversation_root() {
    let mut root = post("1", "a", 0, None);
    root.conversation_id = Some("1".into());
    let mut orphan = post("5", "b", 5, Some("4"));
    orphan.conversation_id = Some("1".into());
    let set = set_of(vec![root, orphan]);
    let t = build(&set, &Options::default());
    assert_eq!(t.threads.len(), 1);
    let th = &t.threads[0];
    assert_eq!((th.posts, th.gaps, th.depth), (2, 1, 2));
    let gap = t.children(th.root)[0];
    assert_eq!(t.parent(gap).map(|(_, k)| k), Some(EdgeKind::Conversation));
}

#[test]
fn reposts_are_counted_not_threaded() {
    let mut rt = post("7", "r", 5, None);
    rt.repost_of = Some("1".into());
    let mut rt_absent = post("8", "r", 6, None);
    rt_absent.repost_of = Some("404".into());
    let set = set_of(vec![post("1", "a", 0, None), rt, rt_absent]);
    let t = build(&set, &Options::default());
    assert_eq!(t.threads.len(), 1);
    assert_eq!(t.threads[0].posts, 1);
    assert_eq!(
        t.reposts.get(&set.find(Platform::Twitter, "1").unwrap()),
        Some(&1)
    );
    assert_eq!(t.reposts_of_absent, 1);
}

#[test]
fn quotes_join_a_thread_only_when_asked() {
    let mut q = post("2", "b", 1, None);
    q.quote_of = Some("1".into());
    let set = set_of(vec![post("1", "a", 0, None), q]);
    assert_eq!(build(&set, &Options::default()).threads.len(), 2);
    let t = build(&set, &Options { quotes: true });
    assert_eq!(t.threads.len(), 1);
    let child = t.children(t.threads[0].root)[0];
    assert_eq!(t.parent(child).map(|(_, k)| k), Some(EdgeKind::Quote));
}

#[test]
fn reply_cycles_are_cut_at_the_earliest_post_and_reported() {
    // 2 → 3 → 4 → 2 (each replying to the next), plus 5 replying into the cycle.
    let set = set_of(vec![
        post("3", "b", 3, Some("2")),
        post("4", "c", 4, Some("3")),
        post("2", "a", 2, Some("4")),
        post("5", "d", 5, Some("3")),
        post("6", "e", 6, Some("6")),
    ]);
    let t = build(&set, &Options::default());
    assert_eq!(t.cycles.len(), 2, "{:?}", t.cycles);
    let c = &t.cycles[0];
    assert_eq!((c.cut.as_str(), c.dropped_parent.as_str()), ("2", "4"));
    assert_eq!(c.ids, vec!["2", "3", "4"]);
    assert_eq!((t.cycles[1].cut.as_str(), t.cycles[1].ids.len()), ("6", 1));
    assert_eq!(t.threads.len(), 2);
    assert_eq!(
        (t.threads[0].root_id.as_str(), t.threads[0].posts),
        ("2", 4)
    );
    // Same data in another order: same cut.
    let set2 = set_of(vec![
        post("6", "e", 6, Some("6")),
        post("5", "d", 5, Some("3")),
        post("2", "a", 2, Some("4")),
        post("4", "c", 4, Some("3")),
        post("3", "b", 3, Some("2")),
    ]);
    assert_eq!(build(&set2, &Options::default()).cycles, t.cycles);
}

#[test]
fn output_does_not_depend_on_input_order() {
    let posts = vec![
        post("1", "a", 0, None),
        post("2", "b", 0, Some("1")),
        post("10", "c", 0, Some("1")),
        post("3", "d", 0, None),
        post("4", "e", 1, Some("404")),
    ];
    let a = set_of(posts.clone());
    let b = set_of(posts.into_iter().rev().collect());
    let (ta, tb) = (
        build(&a, &Options::default()),
        build(&b, &Options::default()),
    );
    let summary = |t: &Threads, s: &PostSet| -> Vec<(String, Vec<String>)> {
        t.threads
            .iter()
            .map(|th| (th.id.clone(), ids(t, s, &th.nodes)))
            .collect()
    };
    assert_eq!(summary(&ta, &a), summary(&tb, &b));
    // Ids compare as numbers: 2 before 10 at the same time.
    assert_eq!(summary(&ta, &a)[0].1, vec!["1", "2", "10"]);
}

#[test]
fn a_chain_a_million_replies_deep_needs_no_recursion() {
    const N: usize = 1_000_000;
    let mut set = PostSet::new();
    for i in 0..N {
        let mut p = Post::new(Platform::Mastodon, i.to_string());
        p.reply_to = (i > 0).then(|| (i - 1).to_string());
        p.author_mut().id = Some((i % 2).to_string());
        set.add(p);
    }
    let t = build(&set, &Options::default());
    assert_eq!(t.threads.len(), 1);
    let th = &t.threads[0];
    assert_eq!(
        (th.posts, th.depth, th.breadth, th.participants),
        (N, N - 1, 1, 2)
    );
    let pre = t.preorder(th);
    assert_eq!(pre.len(), N);
    assert_eq!(pre[N - 1].1, N - 1);
}
