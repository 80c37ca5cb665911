//! The controller's integration tests, in one binary (one link instead of one per file):
//! the real `aisprint` and `aisprint-agent` binaries on temporary copies of the examples and
//! fixtures, with real brokers and servers on loopback where they can run here.

mod support;

mod design_cli;
mod hardening;
mod im_deploy;
mod mesh;
mod models_cli;
mod oscar;
mod oscar_client;
mod profile_cli;
mod qos;
mod runtime;
mod space4aid_app;
mod space4aid_cli;
mod toscarizer_cli;
