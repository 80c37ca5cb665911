//! The AI-SPRINT controller: the design tools, SPACE4AI-D on applications, provisioning, the
//! profiling campaigns, and the controller's side of the agent mesh; and `aisprint`'s command
//! line over them (`cli` parses, `commands` runs, `error` says how a command ended).

pub mod appdir;
pub mod campaign;
pub mod cli;
pub mod clients;
pub mod commands;
pub mod dashboards;
pub mod demo;
pub mod design;
pub mod error;
pub mod jobs;
pub mod mesh;
pub mod model_import;
pub mod models;
pub mod new_app;
pub mod output;
pub mod packaging;
pub mod provision;
pub mod space4aid;
