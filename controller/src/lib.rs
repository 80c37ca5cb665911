//! The AI-SPRINT controller: design tools and their command line.

pub mod appdir;
pub mod campaign;
pub mod dashboards;
pub mod design;
pub mod im_client;
pub mod mesh;
pub mod models;
pub mod new_app;
pub mod oscar_apply;
pub mod oscar_client;
pub mod output;
pub mod pysource;
pub mod space4aid_app;
pub mod space4aid_cmd;
pub mod toscarizer;
