//! `--format bluesky`: the input (after its mode byte, see the harness) read as a Bluesky file
//! in strict or `--skip-bad` mode, then threaded: thread trees of any depth (walked without
//! recursion), search and feed pages, post views, and repository exports (CAR files, whose
//! framing and tree are read from untrusted bytes).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rethread_fuzz::import(rethread::source::Format::Bluesky, data);
});
