//! The JSON Lines reader: one record a line, read, parsed and handed on in three overlapping
//! stages, and how a JSON file is told to be JSON Lines or one document.

use super::{Context, Run};
use crate::model::Record;
use anyhow::{Context as _, Result};
use rayon::prelude::*;
use serde_json::value::RawValue;
use std::io::BufRead;

/// How the records of a JSON file are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// JSON Lines: one record a line; blank lines are passed over, a bad line is a bad record.
    Lines,
    /// One JSON document (an object, or an array of records) over any number of lines.
    Document,
}

/// Tell JSON Lines from one JSON document by the start of the file (`head`, which holds at
/// least its first two lines that are not blank; `whole` when it is the whole file).
///
/// Blank lines never decide. A first line that is a whole JSON object means JSON Lines. When
/// it is not (a pretty-printed `[` or `{` opening a document, or a JSON Lines file whose first
/// record is broken), the head is read as a document: a value that ends with the file, or runs
/// on past the head (a large document), is one. If that fails too, a later line of the head
/// that is a whole object standing at the start of its line shows JSON Lines with a bad line;
/// without one, it is a broken document, and reading it as one names the line of the fault.
///
/// Why it matters: read as one document, a JSON Lines file is a single bad record, so a blank
/// or broken first line would lose every record after it.
pub(super) fn layout(head: &[u8], whole: bool) -> Layout {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // The head may end inside a character; what comes before is enough.
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    // Only complete lines: the head may end inside one (unless it is the whole file).
    let complete = match text.rfind('\n') {
        _ if whole => text,
        Some(i) => &text[..i],
        None => "",
    };
    let mut lines = complete.split('\n').filter(|l| !l.trim().is_empty());
    if lines.next().is_some_and(|l| is_object(l.trim())) {
        return Layout::Lines;
    }
    let start = text.trim_start();
    let mut values = serde_json::Deserializer::from_str(start).into_iter::<&RawValue>();
    match values.next() {
        Some(Ok(_)) if start[values.byte_offset()..].trim().is_empty() => return Layout::Document,
        Some(Err(e)) if e.is_eof() && !whole => return Layout::Document,
        _ => {}
    }
    if lines.any(|l| l.starts_with('{') && is_object(l.trim_end())) {
        Layout::Lines
    } else {
        Layout::Document
    }
}

/// A whole JSON object and nothing else.
fn is_object(text: &str) -> bool {
    text.starts_with('{') && serde_json::from_str::<&RawValue>(text).is_ok()
}

impl Run<'_> {
    /// JSON Lines, in three overlapping stages: one thread reads batches of lines, one parses
    /// each batch on all cores, and this thread hands the records on in file order. Reading,
    /// parsing and storing a large file then take about as long as the slowest of them, not
    /// their sum. Bounded channels keep at most a few batches in memory; when the sink fails,
    /// dropping the receiving end stops the other stages.
    ///
    /// A batch is one buffer of about 4 MiB holding whole lines, and it goes back to the reader
    /// once parsed. Reading each line into its own growing `Vec` instead cost a chain of
    /// reallocations per line (a twarc2 page is one ~170 kB line), and fresh memory for every
    /// batch made the kernel zero pages over and over: on a 1.7 GB file, about a fifth of the
    /// CPU time went to that.
    pub(super) fn jsonl(
        &mut self,
        reader: impl BufRead + Send,
        parse: fn(&str, &Context) -> Result<Vec<Record>, String>,
        progress: &indicatif::ProgressBar,
    ) -> Result<()> {
        let format = self.report.format;
        type Parsed = Vec<(u64, Result<Vec<Record>, String>)>;
        let (source, keep_raw, file) = (
            self.source.clone(),
            self.opts.keep_raw,
            self.report.file.clone(),
        );
        std::thread::scope(|scope| -> Result<()> {
            let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<std::io::Result<Batch>>(2);
            let (parsed_tx, parsed_rx) =
                std::sync::mpsc::sync_channel::<std::io::Result<Parsed>>(2);
            // Used buffers flow back to the reader; a few are in flight at any time.
            let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Batch>();
            scope.spawn(move || read_batches(reader, BATCH_BYTES, progress, &batch_tx, &spare_rx));
            scope.spawn(move || {
                for batch in batch_rx {
                    let parsed = batch.map(|batch| {
                        let parsed = batch
                            .lines
                            .par_iter()
                            .filter_map(|&(line, start, end)| {
                                let text = match std::str::from_utf8(&batch.data[start..end]) {
                                    Ok(text) if text.trim().is_empty() => return None,
                                    Ok(text) => text,
                                    Err(e) => {
                                        let column = e.valid_up_to() + 1;
                                        let message = format!(
                                            "not UTF-8 text (invalid byte at column {column})"
                                        );
                                        return Some((line, Err(message)));
                                    }
                                };
                                let cx = Context {
                                    source: source.clone(),
                                    line,
                                    format,
                                    keep_raw,
                                };
                                Some((line, parse(text.trim_end(), &cx)))
                            })
                            .collect::<Parsed>();
                        // The reader may be gone already (it stops at the end of the file).
                        let _ = spare_tx.send(batch);
                        parsed
                    });
                    if parsed_tx.send(parsed).is_err() {
                        return;
                    }
                }
            });
            for batch in parsed_rx {
                let batch = batch.with_context(|| format!("{file}: cannot read"))?;
                for (line, result) in batch {
                    self.take(line, result)?;
                }
            }
            Ok(())
        })
    }
}

/// The size of a batch of JSON Lines. Smaller batches hold less memory in flight; this one
/// still gives each core a few dozen twarc2 pages (~170 kB a line) to parse at a time.
pub(super) const BATCH_BYTES: usize = 4 << 20;

/// Whole lines of a JSON Lines file: `data` holds them, each entry of `lines` is a line's
/// number and its byte range in `data` (without the newline).
struct Batch {
    data: Vec<u8>,
    lines: Vec<(u64, usize, usize)>,
}

/// Read the file in batches of about 4 MiB of whole lines and send them on, reusing the
/// buffers that come back on `spare`. A line longer than a batch makes its batch larger; a
/// last line without a newline is still a line.
fn read_batches(
    mut reader: impl BufRead,
    batch_bytes: usize,
    progress: &indicatif::ProgressBar,
    tx: &std::sync::mpsc::SyncSender<std::io::Result<Batch>>,
    spare: &std::sync::mpsc::Receiver<Batch>,
) {
    let mut line_no = 0u64;
    // The start of a line that did not fit in the previous batch.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut batch = spare.try_recv().unwrap_or_else(|_| Batch {
            data: Vec::with_capacity(batch_bytes),
            lines: Vec::new(),
        });
        batch.data.clear();
        batch.lines.clear();
        batch.data.extend_from_slice(&carry);
        carry.clear();
        // Fill up to the batch size, and on until the buffer holds at least one newline.
        let mut eof = false;
        let mut scanned = 0;
        let mut last_newline = None;
        while !eof && (batch.data.len() < batch_bytes || last_newline.is_none()) {
            let before = batch.data.len();
            // Up to the batch size; past it (a line longer than a batch), one batch more.
            let want = if before < batch_bytes {
                batch_bytes
            } else {
                before + batch_bytes
            };
            batch.data.resize(want, 0);
            match reader.read(&mut batch.data[before..]) {
                Ok(0) => {
                    batch.data.truncate(before);
                    eof = true;
                }
                Ok(n) => {
                    batch.data.truncate(before + n);
                    progress.inc(n as u64);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    batch.data.truncate(before);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
            if let Some(i) = memchr::memrchr(b'\n', &batch.data[scanned..]) {
                last_newline = Some(scanned + i);
            }
            scanned = batch.data.len();
        }
        // Whole lines end at the last newline; at the end of the file, the rest is a line too.
        let end = match (eof, last_newline) {
            (true, _) => batch.data.len(),
            (false, Some(i)) => {
                carry.extend_from_slice(&batch.data[i + 1..]);
                batch.data.truncate(i + 1);
                i + 1
            }
            (false, None) => unreachable!("the loop reads on until a newline or the end"),
        };
        let mut start = 0;
        while start < end {
            let stop = memchr::memchr(b'\n', &batch.data[start..end]).map_or(end, |i| start + i);
            line_no += 1;
            batch.lines.push((line_no, start, stop));
            start = stop + 1;
        }
        if batch.lines.is_empty() && eof {
            return;
        }
        if tx.send(Ok(batch)).is_err() || eof {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines split into batches of every small size come out whole, numbered and in order,
    /// with a line longer than a batch, blank lines, CRLF and a last line without a newline.
    #[test]
    fn batches_hold_whole_lines_whatever_their_size() {
        let text = "{\"a\":1}\r\n\n{\"b\":\"0123456789abcdefghij0123456789\"}\n  \n{\"c\":3}";
        let want: Vec<(u64, &str)> = text.split('\n').zip(1..).map(|(l, n)| (n, l)).collect();
        for size in [1, 2, 3, 7, 16, 31, 64, 1 << 20] {
            let (tx, rx) = std::sync::mpsc::sync_channel(1000);
            let (spare_tx, spare_rx) = std::sync::mpsc::channel();
            let progress = indicatif::ProgressBar::hidden();
            read_batches(
                std::io::Cursor::new(text.as_bytes()),
                size,
                &progress,
                &tx,
                &spare_rx,
            );
            drop(tx);
            let mut got = Vec::new();
            for batch in rx {
                let batch: Batch = batch.unwrap();
                for &(n, start, end) in &batch.lines {
                    got.push((
                        n,
                        std::str::from_utf8(&batch.data[start..end])
                            .unwrap()
                            .to_string(),
                    ));
                }
                // A used buffer offered back is taken up again.
                spare_tx.send(batch).unwrap();
            }
            let got: Vec<(u64, &str)> = got.iter().map(|(n, l)| (*n, l.as_str())).collect();
            assert_eq!(got, want, "batch size {size}");
            assert_eq!(progress.position(), text.len() as u64);
        }
    }
}
