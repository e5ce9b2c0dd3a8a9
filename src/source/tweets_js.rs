use super::Context;
use crate::model::Record;
use std::path::Path;

#[derive(Debug, Default, Clone)]
pub struct Sidecar {}
impl Sidecar {
    pub fn find(_tweets_js: &Path) -> Sidecar {
        Sidecar::default()
    }
}
pub fn strip_assignment(text: &str) -> Option<&str> {
    text.find('=').map(|i| &text[i + 1..])
}
pub fn parse_record(json: &str, cx: &Context, sidecar: &Sidecar) -> Result<Vec<Record>, String> {
    let _ = (json, cx, sidecar);
    Err("TODO".into())
}
