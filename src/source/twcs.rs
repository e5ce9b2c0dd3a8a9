use crate::model::Record;
use std::io::Read;
use std::sync::Arc;
pub fn is_header(line: &str) -> bool {
    line.contains("tweet_id") && line.contains("in_response_to_tweet_id")
}
pub fn read(
    reader: impl Read,
    source: &Arc<str>,
    keep_raw: bool,
    mut emit: impl FnMut(u64, Result<Vec<Record>, String>) -> bool,
) -> std::io::Result<()> {
    let _ = (reader, source, keep_raw, &mut emit);
    Ok(())
}
