//! `--format twcs`: the input (after its mode byte, see the harness) read as a twcs file in
//! strict or `--skip-bad` mode, then threaded.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rethread_fuzz::import(rethread::source::Format::Twcs, data);
});
