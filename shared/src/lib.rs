//! The AI-SPRINT application model, shared by the controller and the agent.
//!
//! Invariant: this crate does no IO. It parses text it is given, validates, and computes;
//! reading and writing files, sockets and processes belong to the crates that use it.

pub mod ams;
pub mod app;
pub mod dag;
pub mod design;
pub mod diag;
pub mod im;
pub mod json;
pub mod mesh;
pub mod oscar;
pub mod perfmodel;
pub mod profile;
pub mod pyliteral;
pub mod space4aid;
pub mod system;
pub mod toscarizer;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Pos, Severity};
