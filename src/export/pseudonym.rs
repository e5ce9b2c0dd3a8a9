//! Pseudonymisation for exports: every account becomes a stable salted hash.
//!
//! The same account gets the same pseudonym in every post, every file and every format of one
//! export (and of any export made with the same salt), so threads and interaction graphs keep
//! their shape. Without the salt, a pseudonym cannot be turned back into a handle by hashing
//! the handles one suspects. What is rewritten: author id, handle and display name, the author
//! replied to, mentions (the list, and `@handle` inside text, content warnings and media
//! descriptions), and links to profiles and posts inside those texts; what is dropped: post URLs
//! and URIs (they carry the handle).
//!
//! A link names a person as surely as an `@handle` does, whether or not that person wrote in the
//! corpus: `https://twitter.com/AliceSmith/status/1` by its path, `https://t.co/…` by where it
//! leads (Twitter puts one after every tweet with media, leading to the tweet's own page). So
//! in text a link to a profile becomes `[profile of @user-…]` and a link to a post `[post by
//! @user-…]`, with the same pseudonym as the account everywhere else, and neither its handle
//! nor its post id (a real id is looked up as easily as a handle). Which links: every link with
//! a path on a platform host ([`PLATFORM_HOSTS`]: those whose paths are accounts and posts, or
//! that redirect to them), and on any host a path segment `@name` (Mastodon, Misskey and most
//! of the fediverse; `/@name/ID` is a post) or a path starting `/users/name` (ActivityPub ids;
//! `/users/name/statuses/ID` is a post). Links with or without `https://`, in any letter case.

use crate::model::Post;
use sha2::{Digest, Sha256};

/// Hosts (and their subdomains: `mobile.twitter.com`, `www.x.com`) where every path is about
/// an account: Twitter/X, its short links and the embed mirrors people paste for previews (they
/// serve Twitter's own `/handle/status/id` paths), and Bluesky's web app.
const PLATFORM_HOSTS: [&str; 7] = [
    "twitter.com",
    "x.com",
    "t.co",
    "fxtwitter.com",
    "vxtwitter.com",
    "fixupx.com",
    "bsky.app",
];

/// First path segments of Twitter that are pages, not accounts (`twitter.com/search?q=…`).
const TWITTER_PAGES: [&str; 17] = [
    "i",
    "intent",
    "share",
    "search",
    "hashtag",
    "explore",
    "home",
    "notifications",
    "messages",
    "settings",
    "login",
    "logout",
    "signup",
    "tos",
    "privacy",
    "compose",
    "about",
];

/// A link is read up to its fourth path segment (`/users/name/statuses/ID`), its query, or
/// this many characters, to tell whose it is: enough for any host and handle, and it keeps the
/// scan of a text full of links, one inside the other, linear.
const LINK_HEAD: usize = 600;

/// What a link in text points at.
enum Link {
    Post(String),
    Profile(String),
    /// A platform link that names no handle we can read (`twitter.com/i/web/status/ID`).
    Removed,
}

/// A salt too short to keep the pseudonyms secret (the command says where the salt comes from).
#[derive(Debug, thiserror::Error)]
#[error("the pseudonymisation salt must be at least 8 characters")]
pub struct ShortSalt;

pub struct Pseudonymizer {
    salt: String,
}

impl Pseudonymizer {
    /// `salt` must be secret to the researcher and non-empty.
    pub fn new(salt: &str) -> anyhow::Result<Pseudonymizer> {
        if salt.trim().len() < 8 {
            return Err(ShortSalt.into());
        }
        Ok(Pseudonymizer {
            salt: salt.to_string(),
        })
    }

    fn hash(&self, kind: &str, value: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.salt.as_bytes());
        h.update([0]);
        h.update(kind.as_bytes());
        h.update([0]);
        h.update(value.to_lowercase().as_bytes());
        let d = h.finalize();
        d[..6].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The pseudonym of a handle (`user`, `@user` or `user@server`).
    pub fn handle(&self, handle: &str) -> String {
        format!(
            "user-{}",
            self.hash("handle", handle.trim_start_matches('@'))
        )
    }

    fn id(&self, id: &str) -> String {
        format!("id-{}", self.hash("id", id))
    }

    /// Replace every `@handle` (and `@user@server`) and every link to a profile or a post in
    /// `text`.
    pub fn text(&self, text: &str) -> String {
        self.text_mentioning(text, &[])
    }

    /// [`Pseudonymizer::text`] for a post that lists its `mentions`: Mastodon writes `@bob` in
    /// the text for `bob@server` in the list, and the pseudonym must be the one of `bob@server`
    /// (the same as bob's as an author, and as his profile link's).
    fn text_mentioning(&self, text: &str, mentions: &[String]) -> String {
        let mut full_handles = std::collections::HashMap::new();
        for m in mentions {
            if let Some((user, _)) = m.split_once('@') {
                full_handles.entry(user.to_lowercase()).or_insert(m);
            }
        }
        let chars: Vec<char> = text.chars().collect();
        let handle_char = |c: char| c.is_alphanumeric() || c == '_';
        // Where the link that could start at each position would end (see `link_ends`),
        // computed once from the back, so that no position scans the rest of its word again.
        let mut stop = vec![chars.len(); chars.len() + 1];
        for k in (0..chars.len()).rev() {
            stop[k] = if link_ends(chars[k]) { k } else { stop[k + 1] };
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let boundary = i == 0
                || !(chars[i - 1].is_alphanumeric()
                    || matches!(chars[i - 1], '.' | '-' | '_' | '@'));
            if boundary && c.is_ascii_alphanumeric() {
                if let Some((end, link)) = personal_link(&chars, i, stop[i]) {
                    out.push_str(&match link {
                        Link::Post(h) => format!("[post by @{}]", self.handle(&h)),
                        Link::Profile(h) => format!("[profile of @{}]", self.handle(&h)),
                        Link::Removed => "[link removed]".to_string(),
                    });
                    i = end;
                    continue;
                }
            }
            let starts = c == '@'
                && (i == 0 || !handle_char(chars[i - 1]))
                && chars.get(i + 1).is_some_and(|&n| handle_char(n));
            if !starts {
                out.push(c);
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < chars.len() && handle_char(chars[j]) {
                j += 1;
            }
            // `@user@server.example`: the server is part of the handle.
            if chars.get(j) == Some(&'@') && chars.get(j + 1).is_some_and(|&n| n.is_alphanumeric())
            {
                let mut k = j + 1;
                while k < chars.len()
                    && (chars[k].is_alphanumeric() || matches!(chars[k], '.' | '-'))
                {
                    k += 1;
                }
                while k > j + 1 && matches!(chars[k - 1], '.' | '-') {
                    k -= 1;
                }
                j = k;
            }
            let mut handle: String = chars[i + 1..j].iter().collect();
            if !handle.contains('@') {
                if let Some(full) = full_handles.get(&handle.to_lowercase()) {
                    handle = full.to_string();
                }
            }
            out.push('@');
            out.push_str(&self.handle(&handle));
            i = j;
        }
        out
    }

    /// Rewrite the text in codes that did not come from the (already rewritten) posts: a
    /// learned code's nearest labelled example is a post of the researcher's coded sample,
    /// with the handles and links it was written with. Sentences and matched words are cut
    /// from the post's own text, so they were rewritten with it.
    pub fn codes(&self, codes: &mut [Vec<crate::themes::Evidence>]) {
        for e in codes.iter_mut().flatten() {
            if let Some(x) = &e.example {
                e.example = Some(self.text(x));
            }
        }
    }

    /// Rewrite one post (its id and its reply and quote links to other posts stay).
    pub fn apply(&self, p: &mut Post) {
        let a = p.author_mut();
        let pseudonym = a
            .handle
            .as_deref()
            .or(a.id.as_deref())
            .map(|h| self.handle(h));
        a.id = a.id.as_deref().map(|id| self.id(id));
        a.handle = pseudonym.clone();
        a.display_name = pseudonym;
        p.reply_to_author = p.reply_to_author.as_deref().map(|id| self.id(id));
        let mentions = std::mem::take(&mut p.mentions);
        p.text = self.text_mentioning(&p.text, &mentions);
        p.content_warning =
            (p.content_warning.as_deref()).map(|t| self.text_mentioning(t, &mentions));
        p.media_alt = (p.media_alt.iter())
            .map(|t| self.text_mentioning(t, &mentions))
            .collect();
        p.mentions = mentions.iter().map(|m| self.handle(m)).collect();
        p.url = None;
        p.uri = None;
        p.raw = None;
    }
}

/// Characters no link in running text contains: white space, controls, and the quotes and
/// brackets that delimit links in text and markup.
fn link_ends(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '`')
}

/// The link to a profile or post that starts at `chars[i]` (and runs at most to `stop`), with
/// the index just after it; `None` when none starts there.
fn personal_link(chars: &[char], i: usize, stop: usize) -> Option<(usize, Link)> {
    // A cheap look first, as this runs at every word: a scheme, or a host name and a `/`.
    let scheme = ["https://", "http://"].iter().any(|s| {
        chars.len() >= i + s.len()
            && chars[i..i + s.len()]
                .iter()
                .zip(s.chars())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
    });
    if !scheme {
        let mut j = i;
        while j < stop && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], '-' | '.')) {
            j += 1;
        }
        if chars.get(j) != Some(&'/') || !chars[i..j].contains(&'.') {
            return None;
        }
    }
    // Punctuation after a link belongs to the sentence: `(see twitter.com/x).`
    let mut end = stop;
    while end > i
        && matches!(
            chars[end - 1],
            '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']' | '}' | '\'' | '*' | '…'
        )
    {
        end -= 1;
    }
    let after_scheme = if scheme {
        i + chars[i..].iter().position(|&c| c == '/')? + 2
    } else {
        i
    };
    let mut head_end = end.min(i + LINK_HEAD);
    let mut slashes = 0;
    for (k, &c) in chars.iter().enumerate().take(head_end).skip(after_scheme) {
        slashes += usize::from(c == '/');
        if slashes == 5 || c == '?' || c == '#' {
            head_end = k;
            break;
        }
    }
    let head: String = chars[i..head_end].iter().collect();
    // Only links that some rule below could take are parsed.
    let lower = head.to_ascii_lowercase();
    let takeable = lower.contains('@')
        || lower.contains("%40")
        || lower.contains("/users/")
        || PLATFORM_HOSTS.iter().any(|h| lower.contains(h));
    if !takeable {
        return None;
    }
    let url = if scheme {
        url::Url::parse(&head).ok()?
    } else {
        // Without a scheme, only `host.tld/path` is taken for a link.
        let (host, _) = head.split_once('/')?;
        let labels: Vec<&str> = host.split('.').collect();
        let tld = labels.last()?;
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            || tld.len() < 2
            || !tld.chars().all(|c| c.is_ascii_alphabetic())
        {
            return None;
        }
        url::Url::parse(&format!("https://{head}")).ok()?
    };
    let host = url.host_str()?.trim_end_matches('.').to_string();
    // `%40` is `@` to a server.
    let segments: Vec<String> = url
        .path_segments()
        .map(|s| {
            s.filter(|s| !s.is_empty())
                .map(|s| s.replace("%40", "@"))
                .collect()
        })
        .unwrap_or_default();
    link_kind(&host, &segments).map(|l| (end, l))
}

/// Whose profile or post a link of `host` with these path segments is (see the module doc).
fn link_kind(host: &str, segments: &[String]) -> Option<Link> {
    let on = |d: &str| host == d || host.strip_suffix(d).is_some_and(|h| h.ends_with('.'));
    let first = segments.first();
    if let Some(platform) = PLATFORM_HOSTS.iter().find(|d| on(d)) {
        let first = first?;
        let handle = first.trim_start_matches('@');
        return Some(match *platform {
            "t.co" => Link::Removed,
            "bsky.app" => match (first.as_str(), segments.get(1)) {
                ("profile", Some(h)) if segments.get(2).is_some_and(|s| s == "post") => {
                    Link::Post(h.clone())
                }
                ("profile", Some(h)) => Link::Profile(h.clone()),
                _ => Link::Removed,
            },
            _ if handle.is_empty()
                || !handle
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                || TWITTER_PAGES.contains(&handle.to_ascii_lowercase().as_str()) =>
            {
                Link::Removed
            }
            _ if segments.get(1).is_some_and(|s| {
                s.eq_ignore_ascii_case("status") || s.eq_ignore_ascii_case("statuses")
            }) =>
            {
                Link::Post(handle.to_string())
            }
            _ => Link::Profile(handle.to_string()),
        });
    }
    // The fediverse: the account's handle is `name@host` unless the link names its server
    // (`/@name@server`, a remote account shown by another server).
    let on_host = |name: &str| {
        if name.contains('@') {
            name.to_string()
        } else {
            format!("{name}@{host}")
        }
    };
    if let Some(k) = segments
        .iter()
        .position(|s| s.len() > 1 && s.starts_with('@'))
    {
        let handle = on_host(&segments[k][1..]);
        let post = segments
            .get(k + 1)
            .is_some_and(|s| s.chars().any(|c| c.is_ascii_digit()));
        return Some(if post {
            Link::Post(handle)
        } else {
            Link::Profile(handle)
        });
    }
    if first.is_some_and(|s| s.eq_ignore_ascii_case("users")) {
        let handle = on_host(segments.get(1)?);
        let post = segments.get(2).is_some_and(|s| s == "statuses") && segments.len() > 3;
        return Some(if post {
            Link::Post(handle)
        } else {
            Link::Profile(handle)
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Author, Platform};
    use std::sync::Arc;

    #[test]
    fn labelled_examples_in_codes_are_pseudonymised_too() {
        let ps = Pseudonymizer::new("a secret salt").unwrap();
        let mut codes = vec![vec![crate::themes::Evidence {
            coder: crate::themes::CoderKind::Learned,
            probability: Some(0.9),
            example: Some("@nz_rob see https://twitter.com/nz_rob/status/1".into()),
            ..crate::themes::Evidence::pattern(0, String::new(), "a sentence".into(), 0, 10)
        }]];
        ps.codes(&mut codes);
        let x = codes[0][0].example.as_deref().unwrap();
        assert!(!x.contains("nz_rob"), "{x}");
        assert!(x.contains(&ps.handle("nz_rob")), "{x}");
        assert_eq!(codes[0][0].text, "a sentence");
    }

    #[test]
    fn handles_become_stable_salted_pseudonyms_everywhere() {
        let ps = Pseudonymizer::new("a secret salt").unwrap();
        let other = Pseudonymizer::new("another salt!").unwrap();
        assert_eq!(ps.handle("nz_rob"), ps.handle("@NZ_rob"));
        assert_ne!(ps.handle("nz_rob"), other.handle("nz_rob"));
        assert_ne!(ps.handle("nz_rob"), ps.handle("audaciousgloop"));
        let mut p = Post::new(Platform::Twitter, "1");
        p.author = Arc::new(Author {
            id: Some("17730914".into()),
            handle: Some("nz_rob".into()),
            display_name: Some("Rob".into()),
            server: None,
        });
        p.text = "@audaciousgloop ask @ana@social.example, mail rob@example.org".into();
        p.mentions = vec!["audaciousgloop".into()];
        p.url = Some("https://twitter.com/nz_rob/status/1".into());
        p.reply_to_author = Some("16420578".into());
        ps.apply(&mut p);
        let all = format!("{p:?}");
        for raw in [
            "nz_rob",
            "Rob\"",
            "audaciousgloop",
            "17730914",
            "16420578",
            "@ana",
            "twitter.com",
        ] {
            assert!(!all.contains(raw), "{raw} remains in {all}");
        }
        assert_eq!(
            p.author.handle.as_deref(),
            Some(ps.handle("nz_rob").as_str())
        );
        assert_eq!(
            p.text,
            format!(
                "@{} ask @{}, mail rob@example.org",
                ps.handle("audaciousgloop"),
                ps.handle("ana@social.example")
            ),
            "an e-mail address is not a mention"
        );
        assert_eq!(p.id, "1");
        assert!(Pseudonymizer::new("short").is_err());
    }

    #[test]
    fn links_to_profiles_and_posts_become_pseudonyms() {
        let ps = Pseudonymizer::new("a secret salt").unwrap();
        let post = |h: &str| format!("[post by @{}]", ps.handle(h));
        let profile = |h: &str| format!("[profile of @{}]", ps.handle(h));
        let cases = [
            (
                "https://twitter.com/AliceSmith/status/1",
                post("alicesmith"),
            ),
            ("https://x.com/AliceSmith/status/1?s=20", post("AliceSmith")),
            (
                "HTTPS://MOBILE.TWITTER.COM/ALICESMITH",
                profile("AliceSmith"),
            ),
            ("x.com/AliceSmith/with_replies", profile("AliceSmith")),
            ("https://twitter.com/@AliceSmith", profile("AliceSmith")),
            ("www.twitter.com/i/web/status/1", "[link removed]".into()),
            (
                "https://twitter.com/intent/user?screen_name=AliceSmith",
                "[link removed]".into(),
            ),
            ("https://t.co/AbC123", "[link removed]".into()),
            (
                "https://fxtwitter.com/AliceSmith/status/1",
                post("AliceSmith"),
            ),
            (
                "https://bsky.app/profile/alice.bsky.social",
                profile("alice.bsky.social"),
            ),
            (
                "https://bsky.app/profile/alice.bsky.social/post/3k2y",
                post("alice.bsky.social"),
            ),
            (
                "https://social.example/@Grip",
                profile("Grip@social.example"),
            ),
            (
                "https://social.example/@Grip/1234",
                post("Grip@social.example"),
            ),
            (
                "https://social.example/web/@Grip/1234",
                post("Grip@social.example"),
            ),
            (
                "https://a.example/@Grip@social.example",
                profile("Grip@social.example"),
            ),
            (
                "https://social.example/%40Grip",
                profile("Grip@social.example"),
            ),
            ("social.example/@Grip", profile("Grip@social.example")),
            (
                "https://social.example/users/Grip",
                profile("Grip@social.example"),
            ),
            (
                "https://social.example/users/Grip/statuses/9",
                post("Grip@social.example"),
            ),
        ];
        for (link, want) in cases {
            assert_eq!(ps.text(link), want, "{link}");
            // In a sentence, with the punctuation after it kept.
            assert_eq!(
                ps.text(&format!("see ({link}), then")),
                format!("see ({want}), then"),
                "{link}"
            );
        }
        // Links that name nobody stay, and so do the things that only look like links.
        for keep in [
            "https://example.com/a/b?c=d",
            "https://twitter.com",
            "https://twitter.com/",
            "google.com/search",
            "and/or 1.5/2 e.g./x",
            "https://notx.com/AliceSmith",
            "mail rob@example.org/x",
        ] {
            assert_eq!(ps.text(keep), keep);
        }
        // A link inside another link's query is found too.
        assert_eq!(
            ps.text("https://example.com/?next=https://x.com/AliceSmith"),
            format!("https://example.com/?next={}", profile("AliceSmith"))
        );
        // A Mastodon post's `@bob` is the `bob@server` of its mentions, as in bob's profile link.
        let mut p = Post::new(Platform::Mastodon, "1");
        p.text = "@Grip see https://social.example/@Grip".into();
        p.mentions = vec!["grip@social.example".into()];
        ps.apply(&mut p);
        let grip = ps.handle("Grip@social.example");
        assert_eq!(p.text, format!("@{grip} see [profile of @{grip}]"));
        assert_eq!(p.mentions, vec![grip]);
        // And the mentions around links are rewritten as before.
        assert_eq!(
            ps.text("@bob: x.com/AliceSmith @carol"),
            format!(
                "@{}: {} @{}",
                ps.handle("bob"),
                profile("AliceSmith"),
                ps.handle("carol")
            )
        );
    }
}
