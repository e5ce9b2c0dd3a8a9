//! A Bluesky repository export (`.car`) → posts of its account.
//!
//! The file is a CAR v1: a header (`{version: 1, roots: [commit]}`) and then blocks, each a
//! CID and its bytes, every one DAG-CBOR. The signed commit names the root of the repository's
//! Merkle search tree (MST), whose leaves map `collection/rkey` keys to the CIDs of records.
//! We read the blocks into a map, walk the tree in key order (with a stack, and refusing to
//! visit a node twice, so a hostile file can neither recurse nor loop), and turn the records:
//!
//! - `app.bsky.feed.post` → a post of the repository's account, its reply parent from
//!   `reply.parent.uri`; a parent that is not in the file (another account's post, or one the
//!   author deleted) becomes a gap saying so;
//! - `app.bsky.feed.repost` → a repost (a post with `repost_of`, never a reply);
//! - `app.bsky.actor.profile/self` → the account's display name;
//! - every other record (likes, follows, ...) is counted and passed over.
//!
//! The DAG-CBOR decoding is the IPLD project's `serde_ipld_dagcbor` (it bounds nesting); the
//! framing around it is a few varints, read here with every length checked against the file,
//! and each block whose CID is a SHA-256 is checked against its bytes.

use super::super::Run;
use super::{PostRecord, StrongRef, POST, REPOST};
use crate::model::{parse_time, Author, Missing, Platform, Post, Record};
use anyhow::{bail, Context as _, Result};
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::Arc;

/// Does the file start like a CAR: a varint length, then a DAG-CBOR map holding `roots` and
/// `version` (v1), or the fixed pragma of a CAR v2?
pub(super) fn is_car(head: &[u8]) -> bool {
    const V2_PRAGMA: &[u8] = b"\x0a\xa1\x67version\x02";
    if head.starts_with(V2_PRAGMA) {
        return true;
    }
    let Some((len, n)) = varint(head) else {
        return false;
    };
    let header = &head[n..];
    len > 0
        && len < 4096
        && header.first().is_some_and(|b| b & 0xe0 == 0xa0)
        && contains(&header[..header.len().min(len as usize)], b"\x65roots")
        && contains(&header[..header.len().min(len as usize)], b"\x67version")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// An unsigned LEB128 varint at the start of `bytes`: its value and its length (at most 9
/// bytes, as multiformats allows).
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(9) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The blocks of a CAR file, by CID, and what went wrong if the file stops being one.
struct Blocks<'a> {
    roots: Vec<Cid>,
    by_cid: HashMap<Cid, &'a [u8]>,
    /// Where and why reading blocks stopped early (a truncated or corrupt file): the blocks
    /// before it are kept and read.
    broken: Option<String>,
}

fn blocks(bytes: &[u8]) -> Result<Blocks<'_>, String> {
    let (len, n) = varint(bytes).ok_or("not a CAR file: no header length")?;
    let end = n
        .checked_add(usize::try_from(len).map_err(|_| "header length too large")?)
        .filter(|&e| e <= bytes.len())
        .ok_or("the file ends inside the CAR header")?;
    let header: Ipld = serde_ipld_dagcbor::from_slice(&bytes[n..end])
        .map_err(|e| format!("the CAR header is not DAG-CBOR: {e}"))?;
    let version = field(&header, "version");
    if !matches!(version, Some(Ipld::Integer(1))) {
        return Err(match version {
            Some(Ipld::Integer(2)) => {
                "a CAR v2 file: Bluesky repository exports are CAR v1 (unwrap it with `car` tools)"
                    .into()
            }
            other => format!("unsupported CAR version {other:?}"),
        });
    }
    let roots = match field(&header, "roots") {
        Some(Ipld::List(roots)) => roots
            .iter()
            .filter_map(|r| match r {
                Ipld::Link(c) => Some(*c),
                _ => None,
            })
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    let mut by_cid = HashMap::new();
    let mut at = end;
    let mut broken = None;
    while at < bytes.len() {
        let Some((len, n)) = varint(&bytes[at..]) else {
            broken = Some(format!("byte {at}: a block length that is not a varint"));
            break;
        };
        let start = at + n;
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&e| e <= bytes.len() && len > 0)
        else {
            broken = Some(format!(
                "byte {at}: a block of {len} bytes runs past the end of the file ({} bytes): the file is truncated",
                bytes.len()
            ));
            break;
        };
        let mut block = &bytes[start..end];
        let cid = match Cid::read_bytes(&mut block) {
            Ok(c) => c,
            Err(e) => {
                broken = Some(format!("byte {at}: a block whose CID cannot be read: {e}"));
                break;
            }
        };
        // The CID is the hash of the block: a block that does not match was damaged.
        const SHA2_256: u64 = 0x12;
        if cid.hash().code() == SHA2_256 && Sha256::digest(block).as_slice() != cid.hash().digest()
        {
            broken = Some(format!(
                "byte {at}: block {cid} does not match its hash: the file is damaged"
            ));
            break;
        }
        by_cid.insert(cid, block);
        at = end;
    }
    Ok(Blocks {
        roots,
        by_cid,
        broken,
    })
}

fn field<'a>(v: &'a Ipld, key: &str) -> Option<&'a Ipld> {
    match v {
        Ipld::Map(m) => m.get(key),
        _ => None,
    }
}

fn link(v: Option<&Ipld>) -> Option<Cid> {
    match v {
        Some(Ipld::Link(c)) => Some(*c),
        _ => None,
    }
}

/// What the tree names: its leaves in key order, and what it names that the file lacks.
struct Tree {
    leaves: Vec<(String, Cid)>,
    missing_nodes: u64,
    bad_nodes: Vec<String>,
}

/// Walk the Merkle search tree from `root` in key order. A node is `{l, e: [{p, k, v, t}]}`:
/// `l` the subtree left of every entry, and each entry a key (the first `p` bytes of the
/// previous key, then `k`), its record `v` and the subtree `t` after it.
fn walk_tree(blocks: &HashMap<Cid, &[u8]>, root: Cid) -> Tree {
    enum Step {
        Node(Cid),
        Leaf(String, Cid),
    }
    let mut tree = Tree {
        leaves: Vec::new(),
        missing_nodes: 0,
        bad_nodes: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut stack = vec![Step::Node(root)];
    while let Some(step) = stack.pop() {
        let cid = match step {
            Step::Leaf(key, v) => {
                tree.leaves.push((key, v));
                continue;
            }
            Step::Node(cid) => cid,
        };
        if !seen.insert(cid) {
            tree.bad_nodes
                .push(format!("tree node {cid} is reached twice (a cycle)"));
            continue;
        }
        let Some(block) = blocks.get(&cid) else {
            tree.missing_nodes += 1;
            continue;
        };
        let node: Ipld = match serde_ipld_dagcbor::from_slice(block) {
            Ok(n) => n,
            Err(e) => {
                tree.bad_nodes.push(format!("tree node {cid}: {e}"));
                continue;
            }
        };
        let mut steps = Vec::new();
        if let Some(l) = link(field(&node, "l")) {
            steps.push(Step::Node(l));
        }
        let mut key: Vec<u8> = Vec::new();
        if let Some(Ipld::List(entries)) = field(&node, "e") {
            for e in entries {
                let (Some(Ipld::Integer(p)), Some(Ipld::Bytes(k)), Some(v)) =
                    (field(e, "p"), field(e, "k"), link(field(e, "v")))
                else {
                    tree.bad_nodes
                        .push(format!("tree node {cid}: an entry without p, k and v"));
                    break;
                };
                let Some(p) = usize::try_from(*p).ok().filter(|&p| p <= key.len()) else {
                    tree.bad_nodes.push(format!(
                        "tree node {cid}: a key prefix longer than the key before it"
                    ));
                    break;
                };
                key.truncate(p);
                key.extend_from_slice(k);
                match String::from_utf8(key.clone()) {
                    Ok(k) => steps.push(Step::Leaf(k, v)),
                    Err(_) => tree
                        .bad_nodes
                        .push(format!("tree node {cid}: a key that is not UTF-8")),
                }
                if let Some(t) = link(field(e, "t")) {
                    steps.push(Step::Node(t));
                }
            }
        }
        stack.extend(steps.into_iter().rev());
    }
    tree
}

#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(borrow, default, rename = "$type")]
    ty: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Repost<'a> {
    #[serde(borrow, default)]
    subject: Option<StrongRef<'a>>,
    #[serde(borrow, default, rename = "createdAt")]
    created_at: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Profile<'a> {
    #[serde(borrow, default, rename = "displayName")]
    display_name: Option<std::borrow::Cow<'a, str>>,
}

/// Read a repository export. Records are numbered in key order (the "line" of their
/// provenance and of an error).
pub(super) fn read(path: &Path, mut reader: Box<dyn BufRead + Send>, run: &mut Run) -> Result<()> {
    let name = path.display().to_string();
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .with_context(|| format!("{name}: cannot read"))?;
    let blocks = blocks(&bytes).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let Some(&root) = blocks.roots.first() else {
        bail!("{name}: the CAR header names no root (a repository export names its commit)");
    };
    let Some(commit) = blocks
        .by_cid
        .get(&root)
        .and_then(|b| serde_ipld_dagcbor::from_slice::<Ipld>(b).ok())
    else {
        bail!(
            "{name}: the commit block {root} is not in the file{}",
            blocks
                .broken
                .as_deref()
                .map(|b| format!(" ({b})"))
                .unwrap_or_default()
        );
    };
    let did = match field(&commit, "did") {
        Some(Ipld::String(d)) if is_did(d) => d.clone(),
        _ => bail!("{name}: the commit names no account (no valid `did`): not a repository export"),
    };
    // A v2/v3 commit names the tree as `data`; the first repositories had a `root` object
    // between the commit and the tree.
    let data = link(field(&commit, "data")).or_else(|| {
        let inner = link(field(&commit, "root"))?;
        let block = blocks.by_cid.get(&inner)?;
        let root: Ipld = serde_ipld_dagcbor::from_slice(block).ok()?;
        link(field(&root, "data"))
    });
    let Some(data) = data else {
        bail!("{name}: the commit names no record tree (`data`)");
    };
    let tree = walk_tree(&blocks.by_cid, data);
    let keys: HashSet<&str> = tree.leaves.iter().map(|(k, _)| k.as_str()).collect();

    // The profile first, so that every post carries the account's display name.
    let mut author = Author {
        id: Some(did.clone()),
        ..Author::default()
    };
    if let Some(block) = tree
        .leaves
        .iter()
        .find(|(k, _)| k == "app.bsky.actor.profile/self")
        .and_then(|(_, c)| blocks.by_cid.get(c))
    {
        if let Ok(p) = serde_ipld_dagcbor::from_slice::<Profile>(block) {
            author.display_name = p
                .display_name
                .map(|d| d.into_owned())
                .filter(|d| !d.trim().is_empty());
        }
    }
    let author = Arc::new(author);

    let mut missing_records = 0u64;
    let mut gaps_noted: HashSet<String> = HashSet::new();
    for (i, (key, cid)) in tree.leaves.iter().enumerate() {
        let line = i as u64 + 1;
        let Some(block) = blocks.by_cid.get(cid) else {
            missing_records += 1;
            continue;
        };
        let (collection, rkey) = key.split_once('/').unwrap_or((key.as_str(), ""));
        let uri = format!("at://{did}/{key}");
        let cx = run.context(line);
        let result = match collection {
            POST => record_post(block, &uri, &did, &author, &keys, &mut gaps_noted, &cx),
            REPOST => record_repost(block, &uri, &author, &cx),
            _ => Ok(Vec::new()),
        }
        .map_err(|e| format!("record {collection}/{rkey}: {e}"));
        run.take(line, result)?;
    }
    if missing_records > 0 || tree.missing_nodes > 0 {
        run.report.warnings.push(format!(
            "the repository's tree names {missing_records} records and {} tree nodes that are not in the file (a partial export): they are not imported",
            tree.missing_nodes
        ));
    }
    for bad in tree.bad_nodes.iter().take(10) {
        run.report
            .warnings
            .push(format!("damaged repository tree: {bad}"));
    }
    if let Some(broken) = blocks.broken {
        // Every record that could be read has been taken: now say that the file is broken.
        let line = tree.leaves.len() as u64 + 1;
        run.take(
            line,
            Err(format!("{broken}; the records before it were read")),
        )?;
    }
    Ok(())
}

/// A DID as a repository names its account: `did:METHOD:ID`.
fn is_did(d: &str) -> bool {
    crate::model::AtUri::parse(&format!("at://{d}/{POST}/x")).is_some() && d.starts_with("did:")
}

fn record_post(
    block: &[u8],
    uri: &str,
    did: &str,
    author: &Arc<Author>,
    keys: &HashSet<&str>,
    gaps_noted: &mut HashSet<String>,
    cx: &super::Context,
) -> Result<Vec<Record>, String> {
    let typed: Typed = serde_ipld_dagcbor::from_slice(block).map_err(|e| e.to_string())?;
    if typed.ty.as_deref().is_some_and(|t| t != POST) {
        return Err(format!(
            "a record of type {:?} in the posts collection",
            typed.ty
        ));
    }
    let r: PostRecord = serde_ipld_dagcbor::from_slice(block).map_err(|e| e.to_string())?;
    let mut p: Post = super::post(uri, Author::clone(author), &r);
    p.author = author.clone();
    p.raw = cx.keep_raw.then(|| dag_json(block)).flatten();
    p.provenance = Some(cx.provenance());
    let mut out = Vec::new();
    // A parent outside the file: another account's post, or one of this account's that is
    // no longer in its repository (deleted). Noted once, as a gap that says which.
    if let Some(parent) = p.reply_to.clone() {
        let own_key = parent
            .strip_prefix("at://")
            .and_then(|rest| rest.strip_prefix(did))
            .and_then(|rest| rest.strip_prefix('/'));
        let outside = match own_key {
            Some(k) if keys.contains(k) => None,
            Some(_) => Some("not in the repository: a post of this account that is no longer there (deleted)"),
            None => Some("outside the repository: a post of another account (import its thread to fill the gap)"),
        };
        if let Some(reason) = outside {
            if gaps_noted.insert(parent.clone()) {
                out.push(Record::Missing(Missing {
                    platform: Platform::Bluesky,
                    id: parent,
                    reason: reason.into(),
                    reply_to: None,
                }));
            }
        }
    }
    out.insert(0, Record::Post(Box::new(p)));
    Ok(out)
}

fn record_repost(
    block: &[u8],
    uri: &str,
    author: &Arc<Author>,
    cx: &super::Context,
) -> Result<Vec<Record>, String> {
    let r: Repost = serde_ipld_dagcbor::from_slice(block).map_err(|e| e.to_string())?;
    let Some(subject) = r.subject.and_then(|s| s.uri).map(|u| u.into_owned()) else {
        return Err("a repost without a subject".into());
    };
    let mut p = Post::new(Platform::Bluesky, uri);
    p.uri = Some(uri.to_string());
    p.author = author.clone();
    p.created_at = r.created_at.as_deref().and_then(parse_time);
    p.repost_of = Some(subject);
    p.raw = cx.keep_raw.then(|| dag_json(block)).flatten();
    p.provenance = Some(cx.provenance());
    Ok(vec![Record::Post(Box::new(p))])
}

/// A record as JSON, the way the AT Protocol writes DAG-CBOR in JSON (links as
/// `{"$link": CID}`, bytes as `{"$bytes": base64}`), for the post's raw record. Written with a
/// stack, not recursion, though the decoder bounds the depth anyway.
fn dag_json(block: &[u8]) -> Option<String> {
    use base64::Engine as _;
    enum Step<'a> {
        Value(&'a Ipld),
        Key(&'a str),
        Text(&'static str),
    }
    let value: Ipld = serde_ipld_dagcbor::from_slice(block).ok()?;
    let mut out = String::new();
    let mut stack = vec![Step::Value(&value)];
    let string = |s: &str| serde_json::to_string(s).unwrap_or_default();
    while let Some(step) = stack.pop() {
        match step {
            Step::Text(t) => out.push_str(t),
            Step::Key(k) => {
                out.push_str(&string(k));
                out.push(':');
            }
            Step::Value(v) => match v {
                Ipld::Null => out.push_str("null"),
                Ipld::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Ipld::Integer(i) => out.push_str(&i.to_string()),
                Ipld::Float(f) if f.is_finite() => out.push_str(&serde_json::to_string(f).ok()?),
                Ipld::Float(_) => out.push_str("null"),
                Ipld::String(s) => out.push_str(&string(s)),
                Ipld::Bytes(b) => {
                    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(b);
                    out.push_str(&format!("{{\"$bytes\":\"{b64}\"}}"));
                }
                Ipld::Link(c) => out.push_str(&format!("{{\"$link\":\"{c}\"}}")),
                Ipld::List(items) => {
                    out.push('[');
                    stack.push(Step::Text("]"));
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push(Step::Value(item));
                        if i > 0 {
                            stack.push(Step::Text(","));
                        }
                    }
                }
                Ipld::Map(map) => {
                    out.push('{');
                    stack.push(Step::Text("}"));
                    // In key order (a BTreeMap), as DAG-CBOR itself orders them.
                    let entries: Vec<_> = map.iter().collect();
                    for (i, (k, item)) in entries.into_iter().enumerate().rev() {
                        stack.push(Step::Value(item));
                        stack.push(Step::Key(k));
                        if i > 0 {
                            stack.push(Step::Text(","));
                        }
                    }
                }
            },
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_the_car_magic() {
        assert_eq!(varint(&[0x05]), Some((5, 1)));
        assert_eq!(varint(&[0xac, 0x02]), Some((300, 2)));
        assert_eq!(varint(&[0xff; 12]), None);
        assert!(!is_car(b"{\"thread\": {}}"));
        assert!(!is_car(b""));
        assert!(is_car(b"\x0a\xa1\x67version\x02rest"));
    }

    #[test]
    fn a_block_that_runs_past_the_end_is_a_truncated_file_not_a_panic() {
        // header: {roots: [], version: 1}, then a block claiming 1000 bytes.
        let header = b"\xa2\x65roots\x80\x67version\x01";
        let mut bytes = vec![header.len() as u8];
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0xe8, 0x07, 1, 2, 3]);
        let b = blocks(&bytes).unwrap();
        assert!(b.broken.unwrap().contains("truncated"));
        // A length of u64::MAX cannot overflow the arithmetic either.
        let mut bytes = vec![header.len() as u8];
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert!(blocks(&bytes).unwrap().broken.is_some());
    }
}
