//! The Mastodon HTML-to-text converter (`source::mastodon::html_to_text`), which every status's
//! `content` goes through, from files and from servers. Any bytes, read as UTF-8 (invalid
//! sequences replaced), must come back as text in time: deep nesting once took seconds per
//! post (issue 11, defect 5), which `run.sh`'s `-timeout` reports.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let _ = rethread::source::mastodon::html_to_text(&html);
});
