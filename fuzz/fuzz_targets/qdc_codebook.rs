//! The REFI-QDA codebook reader (`export::qdpx::codebook_from_qdc`, behind `themes codebook
//! --from-qdc`), which reads XML another tool wrote: any bytes must give a codebook or an
//! error, in time, whatever the nesting (the reader is an event loop, not a recursion).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let xml = String::from_utf8_lossy(data);
    if let Ok(book) = rethread::export::qdpx::codebook_from_qdc(&xml, "fuzz") {
        // Every theme has an id, and ids are unique.
        let mut ids = std::collections::HashSet::new();
        for t in &book.themes {
            assert!(!t.id.is_empty());
            assert!(ids.insert(t.id.clone()), "duplicate id {}", t.id);
        }
    }
});
