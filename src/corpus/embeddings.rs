//! The corpus's `embeddings` table: sentence vectors kept beside the posts, so that a model runs
//! over each post once and every later command reads what it computed.
//!
//! A row is one part of one post under one model: part 0 is the whole text (URLs and @mentions
//! left out), parts 1.. its sentences in order, with their character offsets in the post's
//! plain text as they were when embedded. `hash` identifies what was embedded (the same for every
//! part of a post): a post whose text changed, or a rethread that splits sentences differently,
//! gives another hash, and its vectors are computed again. `vector` is the vector's f32 values,
//! little-endian, back to back.
//!
//! The table is a cache: rethread never needs it to read a corpus, so it is not part of the
//! schema version. It is created with a new corpus, and in a corpus made before it the first
//! time vectors are stored; an older rethread reads a corpus that has it as before. Reading a
//! corpus without the table (or one rethread may not write) finds no vectors, and the model
//! computes them.

use super::sqlite::begin_writing;
use super::Corpus;
use crate::model::Platform;
use anyhow::{Context, Result};
use rusqlite::params;

pub(super) const EMBEDDINGS: &str = "
CREATE TABLE IF NOT EXISTS embeddings (
    model    TEXT NOT NULL,
    platform TEXT NOT NULL,
    id       TEXT NOT NULL,
    -- 0: the whole text; 1..: its sentences, in order.
    part     INTEGER NOT NULL,
    start    INTEGER NOT NULL,
    end      INTEGER NOT NULL,
    hash     BLOB NOT NULL,
    vector   BLOB NOT NULL,
    PRIMARY KEY (model, platform, id, part)
) WITHOUT ROWID;
";

/// One post's vectors, to store: `parts[0]` is the whole text, then each sentence, each with
/// its character offsets.
pub struct PostEmbedding<'a> {
    pub platform: Platform,
    pub id: &'a str,
    pub hash: &'a [u8],
    pub parts: Vec<(usize, usize, &'a [f32])>,
}

/// One post's stored vectors, in part order.
pub struct StoredEmbedding {
    pub platform: Platform,
    pub id: String,
    pub hash: Vec<u8>,
    pub parts: Vec<Vec<f32>>,
}

impl Corpus {
    fn has_embeddings_table(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'embeddings'",
            [],
            |r| r.get::<_, i64>(0),
        )? > 0)
    }

    /// Call `f` with every post's stored vectors under `model`, a post at a time. Posts whose
    /// parts are not all there (0, 1, 2, … without a hole, one hash) are left out.
    pub fn for_each_embedding(&self, model: &str, mut f: impl FnMut(StoredEmbedding)) -> Result<()> {
        if !self.has_embeddings_table()? {
            return Ok(());
        }
        let mut stmt = self.conn.prepare(
            "SELECT platform, id, part, hash, vector FROM embeddings WHERE model = ?1
             ORDER BY model, platform, id, part",
        )?;
        let mut rows = stmt.query(params![model])?;
        let mut current: Option<(StoredEmbedding, bool)> = None;
        let mut flush = |c: Option<(StoredEmbedding, bool)>| {
            if let Some((e, true)) = c {
                f(e);
            }
        };
        while let Some(row) = rows.next()? {
            let platform: String = row.get(0)?;
            let id: String = row.get(1)?;
            let part: i64 = row.get(2)?;
            let hash: Vec<u8> = row.get(3)?;
            let blob: Vec<u8> = row.get(4)?;
            let vector: Vec<f32> = blob
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let same = current
                .as_ref()
                .is_some_and(|(e, _)| e.platform.as_str() == platform && e.id == id);
            if !same {
                flush(current.take());
                let Some(platform) = Platform::parse(&platform) else {
                    continue;
                };
                current = Some((
                    StoredEmbedding {
                        platform,
                        id,
                        hash: hash.clone(),
                        parts: Vec::new(),
                    },
                    true,
                ));
            }
            if let Some((e, whole)) = current.as_mut() {
                *whole &= part == e.parts.len() as i64 && hash == e.hash;
                e.parts.push(vector);
            }
        }
        flush(current.take());
        Ok(())
    }

    /// Store `posts`' vectors under `model` in one transaction, replacing what the corpus held
    /// for them. Creates the table in a corpus made before it.
    pub fn store_embeddings(&self, model: &str, posts: &[PostEmbedding]) -> Result<()> {
        begin_writing(&self.conn).context("cannot write the corpus")?;
        let done = (|| -> Result<()> {
            self.conn.execute_batch(EMBEDDINGS)?;
            let mut delete = self
                .conn
                .prepare_cached("DELETE FROM embeddings WHERE model = ?1 AND platform = ?2 AND id = ?3")?;
            let mut insert = self.conn.prepare_cached(
                "INSERT INTO embeddings (model, platform, id, part, start, end, hash, vector)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut blob = Vec::new();
            for p in posts {
                delete.execute(params![model, p.platform.as_str(), p.id])?;
                for (k, &(start, end, v)) in p.parts.iter().enumerate() {
                    blob.clear();
                    blob.extend(v.iter().flat_map(|x| x.to_le_bytes()));
                    insert.execute(params![
                        model,
                        p.platform.as_str(),
                        p.id,
                        k as i64,
                        start as i64,
                        end as i64,
                        p.hash,
                        blob
                    ])?;
                }
            }
            Ok(())
        })();
        match done {
            Ok(()) => {
                self.conn.execute_batch("COMMIT").context("cannot write the corpus")?;
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e.context("cannot store embeddings in the corpus"))
            }
        }
    }

    /// How many posts have vectors stored under `model`.
    pub fn embedded_posts(&self, model: &str) -> Result<u64> {
        if !self.has_embeddings_table()? {
            return Ok(0);
        }
        Ok(self.conn.query_row(
            "SELECT count(*) FROM embeddings WHERE model = ?1 AND part = 0",
            params![model],
            |r| r.get(0),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_and_replace_what_was_stored() {
        let dir = tempfile::tempdir().unwrap();
        let c = Corpus::open(&dir.path().join("c.db")).unwrap();
        let a = [0.5f32, -0.25, 1e-7];
        let b = [1.0f32, 0.0, -1.0];
        let post = |id: &'static str, hash: &'static [u8], parts: Vec<(usize, usize, &'static [f32])>| PostEmbedding {
            platform: Platform::Twitter,
            id,
            hash,
            parts,
        };
        // Statics for the borrowed slices.
        let (a, b): (&'static [f32], &'static [f32]) = (Box::leak(Box::new(a)), Box::leak(Box::new(b)));
        c.store_embeddings("m", &[post("1", b"h1", vec![(0, 9, a), (0, 4, b), (5, 9, a)]), post("2", b"h2", vec![(0, 3, b)])])
            .unwrap();
        c.store_embeddings("other", &[post("1", b"x", vec![(0, 1, b)])]).unwrap();
        c.store_embeddings("m", &[post("2", b"h3", vec![(0, 3, a)])]).unwrap();
        let mut got = Vec::new();
        c.for_each_embedding("m", |e| got.push((e.id, e.hash, e.parts))).unwrap();
        assert_eq!(
            got,
            [
                ("1".to_string(), b"h1".to_vec(), vec![a.to_vec(), b.to_vec(), a.to_vec()]),
                ("2".to_string(), b"h3".to_vec(), vec![a.to_vec()]),
            ]
        );
        assert_eq!(c.embedded_posts("m").unwrap(), 2);
        assert_eq!(c.embedded_posts("other").unwrap(), 1);
    }

    #[test]
    fn a_corpus_made_before_the_table_gets_it_when_vectors_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = Corpus::open(&path).unwrap();
            c.conn.execute_batch("DROP TABLE embeddings").unwrap();
        }
        let c = Corpus::open(&path).unwrap();
        assert!(!c.has_embeddings_table().unwrap());
        let mut n = 0;
        c.for_each_embedding("m", |_| n += 1).unwrap();
        assert_eq!((n, c.embedded_posts("m").unwrap()), (0, 0), "no table: no vectors");
        let v: &[f32] = &[1.0, 0.0];
        c.store_embeddings(
            "m",
            &[PostEmbedding { platform: Platform::Mastodon, id: "7", hash: b"h", parts: vec![(0, 2, v)] }],
        )
        .unwrap();
        assert_eq!(c.embedded_posts("m").unwrap(), 1);
    }

    #[test]
    fn a_post_with_a_missing_part_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let c = Corpus::open(&dir.path().join("c.db")).unwrap();
        let v: &[f32] = &[1.0];
        c.store_embeddings(
            "m",
            &[PostEmbedding { platform: Platform::Twitter, id: "1", hash: b"h", parts: vec![(0, 2, v), (0, 1, v), (1, 2, v)] }],
        )
        .unwrap();
        c.conn.execute_batch("DELETE FROM embeddings WHERE part = 1").unwrap();
        let mut n = 0;
        c.for_each_embedding("m", |_| n += 1).unwrap();
        assert_eq!(n, 0);
    }
}
