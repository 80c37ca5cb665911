//! SPACE4AI-D: the placement model of `docs/space4ai-d.md`, its evaluator and the search
//! methods.

pub mod eval;
pub mod exact;
pub mod from_app;
pub mod generate;
pub mod incremental;
pub mod model;
pub mod pacsltk;
pub mod search;
pub mod solution_json;
pub mod solver;
