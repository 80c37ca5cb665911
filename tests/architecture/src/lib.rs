//! The rules of ARCHITECTURE.md that a program can check, as functions over what they read
//! (cargo's dependency graph, source text), so that each rule is tested on an example that
//! breaks it (the unit tests below) and on the workspace itself (`tests/architecture.rs`).
//!
//! - [`deps`]: which crate may depend on which (normal and build dependencies, transitively).
//! - [`modules`]: no two modules of a crate import each other, directly or in a circle.
//! - [`sizes`]: files and functions short enough to read whole.

pub mod deps;
pub mod modules;
pub mod sizes;
pub mod source;
