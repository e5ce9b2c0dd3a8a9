//! `--format tweets-js`: the input (after its mode byte, see the harness) read as a tweets-js file in
//! strict or `--skip-bad` mode, then threaded.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rethread_fuzz::import(rethread::source::Format::TweetsJs, data);
});
