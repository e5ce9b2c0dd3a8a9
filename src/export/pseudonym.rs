//! Pseudonymisation for exports: every account becomes a stable salted hash.
//!
//! The same account gets the same pseudonym in every post, every file and every format of one
//! export (and of any export made with the same salt), so threads and interaction graphs keep
//! their shape. Without the salt, a pseudonym cannot be turned back into a handle by hashing
//! the handles one suspects. What is rewritten: author id, handle and display name, the author
//! replied to, mentions (the list, and `@handle` inside text, content warnings and media
//! descriptions); what is dropped: post URLs and URIs (they carry the handle).

use crate::model::Post;
use sha2::{Digest, Sha256};

pub struct Pseudonymizer {
    salt: String,
}

impl Pseudonymizer {
    /// `salt` must be secret to the researcher and non-empty.
    pub fn new(salt: &str) -> anyhow::Result<Pseudonymizer> {
        if salt.trim().len() < 8 {
            anyhow::bail!("the pseudonymisation salt must be at least 8 characters (set RETHREAD_SALT or --salt)");
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

    /// Replace every `@handle` (and `@user@server`) in `text`.
    pub fn text(&self, text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let handle_char = |c: char| c.is_alphanumeric() || c == '_';
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
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
            let handle: String = chars[i + 1..j].iter().collect();
            out.push('@');
            out.push_str(&self.handle(&handle));
            i = j;
        }
        out
    }

    /// Rewrite one post (its id and links to other posts stay).
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
        p.mentions = p.mentions.iter().map(|m| self.handle(m)).collect();
        p.text = self.text(&p.text);
        p.content_warning = p.content_warning.as_deref().map(|t| self.text(t));
        p.media_alt = p.media_alt.iter().map(|t| self.text(t)).collect();
        p.url = None;
        p.uri = None;
        p.raw = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Author, Platform};
    use std::sync::Arc;

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
}
