//! (issue 11) — filled in by the fix for this defect.
