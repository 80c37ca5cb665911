//! SPACE4AI-D: the placement model of `specs/space4ai-d-model.md` (docs/space4ai-d.md), its
//! evaluator and the search methods.

pub mod pacsltk;
