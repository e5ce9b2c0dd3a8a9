//! `--format mastodon`: the input (after its mode byte, see the harness) read as a mastodon file in
//! strict or `--skip-bad` mode, then threaded.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rethread_fuzz::import(rethread::source::Format::Mastodon, data);
});
