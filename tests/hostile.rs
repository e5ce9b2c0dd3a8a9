//! Hostile inputs: each module here is one defect found by attacking rethread as a hostile
//! server, a hostile data file or a careless co-worker would (issue 11), and the tests that
//! keep it fixed. Every test here failed before its fix.
//!
//! The modules live in `tests/hostile/`, one per defect, so each can grow on its own.

mod common;

#[path = "hostile/concurrent.rs"]
mod concurrent;
#[path = "hostile/cursors.rs"]
mod cursors;
#[path = "hostile/deep_markup.rs"]
mod deep_markup;
#[path = "hostile/deep_raw.rs"]
mod deep_raw;
#[path = "hostile/first_lines.rs"]
mod first_lines;
#[path = "hostile/foreign_db.rs"]
mod foreign_db;
#[path = "hostile/formulas.rs"]
mod formulas;
#[path = "hostile/import_log.rs"]
mod import_log;
#[path = "hostile/long_cycle.rs"]
mod long_cycle;
#[path = "hostile/names.rs"]
mod names;
#[path = "hostile/pseudonyms.rs"]
mod pseudonyms;
#[path = "hostile/secrets.rs"]
mod secrets;
#[path = "hostile/symlinks.rs"]
mod symlinks;
#[path = "hostile/times.rs"]
mod times;
