//! SPACE4AI-D: the placement model of `docs/space4ai-d.md` (the system description JSON in
//! `system`, compiled into indexed arrays in `model`), its evaluator and the search methods.
//!
//! **Architecture invariant: no IO.** Systems come in as text or typed values and solutions go
//! out as values. The one exception to "pure": the solver spreads its methods over scoped
//! threads and reads a clock for its duration budget; results do not depend on timing unless
//! a duration is asked for.

pub mod eval;
pub mod exact;
pub mod from_app;
pub mod generate;
pub mod incremental;
pub mod model;
pub mod pacsltk;
pub mod reopt;
pub mod search;
pub mod solution_json;
pub mod solver;
pub mod system;
