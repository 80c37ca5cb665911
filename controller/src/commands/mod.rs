//! One file per subcommand of `aisprint`: each takes its parsed flags, does the work through
//! the library, prints what the user reads, and returns how it ended. Errors are not printed
//! here: `main` reports them once.

mod agents;
mod certs;
mod controller;
mod dashboards;
mod demo;
mod design;
mod metrics;
mod models;
mod new_application;
mod oscar;
mod profile;
mod qos;
mod runtime;
mod space4aid;
mod toscarizer;
mod validate;

use crate::cli::Command;
use crate::error::{CmdError, Outcome};

/// Runs a command.
pub fn run(command: Command) -> Result<Outcome, CmdError> {
    match command {
        Command::Design(a) => design::run(a),
        Command::Space4aid(a) => space4aid::run(a),
        Command::Validate(a) => validate::run(a),
        Command::NewApplication(a) => new_application::run(a),
        Command::Profile(a) => profile::run(a),
        Command::Controller(c) => controller::run(c),
        Command::Certs(c) => certs::run(c),
        Command::Agents(c) => agents::run(c),
        Command::Metrics(c) => metrics::run(c),
        Command::Toscarizer(c) => toscarizer::run(c),
        Command::Models(c) => models::run(c),
        Command::Oscar(c) => oscar::run(c),
        Command::Qos(c) => qos::run(c),
        Command::Dashboards(c) => dashboards::run(c),
        Command::Runtime(c) => runtime::run(c),
        Command::Demo { duration, report, dir } => demo::run(duration, report, dir),
    }
}

/// Runs an asynchronous command to its end on a runtime of its own.
fn block_on<T>(f: impl std::future::Future<Output = Result<T, CmdError>>) -> Result<T, CmdError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CmdError::failed(format!("cannot start the runtime: {e}")))?;
    rt.block_on(f)
}

/// `12 s ago`, or `-` for a time not known.
fn ago(ms: i64) -> String {
    if ms <= 0 {
        return "-".into();
    }
    let ago = (aisprint_runtime::clock::now_ms() - ms) / 1000;
    format!("{ago} s ago")
}

/// Text that came from an agent, made safe for a terminal: control characters (escape
/// sequences that would move the cursor, rewrite the screen or set the title) shown as
/// `\x1b`; newlines and tabs kept where `lines` says so.
fn shown(s: &str, lines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' if lines => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn agents_text_cannot_drive_the_terminal() {
        assert_eq!(super::shown("ok\x1b]0;pwned\x07\n\tx", true), "ok\\x1b]0;pwned\\x07\n\tx");
        assert_eq!(super::shown("a\nb\r", false), "a\\x0ab\\x0d");
    }
}
