//! The AI-SPRINT controller: design tools and their command line.

pub mod pysource;
