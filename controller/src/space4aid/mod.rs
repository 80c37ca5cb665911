//! `aisprint space4aid`: SPACE4AI-D on the files of the public instances (`files`: system
//! JSON, SPACE4AI-D.yaml, solution JSON) and on an application's deployments (`app`).

pub mod app;
pub mod files;
