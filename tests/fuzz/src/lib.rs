//! Fuzzing of every parser of outside input, on stable Rust with proptest: each target takes
//! valid inputs from the repository (seeds) and mutates them (bytes inserted, deleted, replaced,
//! repeated, cut), so that the parser meets what an agent, a local process or a user's file
//! could send, and must answer with an error, never a panic or an endless loop.
//!
//! `cargo test -p aisprint-fuzz` runs every target `AISPRINT_FUZZ_CASES` times (default 256;
//! `tests/run` sets more). A failure is shrunk to a small input and printed; proptest keeps it in
//! `tests/fuzz/proptest-regressions/`, and the input is copied into `tests/regressions.rs` as a
//! plain test once fixed.
