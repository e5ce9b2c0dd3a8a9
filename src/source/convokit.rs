use super::Context;
use crate::model::Record;

pub fn parse_record(json: &str, cx: &Context) -> Result<Vec<Record>, String> {
    let _ = (json, cx);
    Err("TODO".into())
}
