//! The AI-SPRINT application model: every file of an application directory and of the
//! mesh's configuration as typed values, with parsing that reports positions and validation
//! that reports every problem at once.
//!
//! **Architecture invariant: no IO.** This crate never touches files, sockets, processes or
//! clocks. It parses text it is given, validates, and computes; reading and writing belong
//! to the crates that use it, so everything here is testable with strings.

pub mod app;
pub mod config;
pub mod dag;
pub mod design;
pub mod diag;
pub mod drift;
pub mod json;
pub mod npy;
pub mod oscar;
pub mod perfmodel;
pub mod profile;
pub mod pyliteral;
pub mod secret;
pub mod url;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Pos, Severity};
