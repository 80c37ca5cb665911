//! Logging: `tracing` on standard error, `-v` for more, `RUST_LOG` over both.

/// Starts the subscriber. `levels` are the filters for no `-v`, one, and more (for example
/// `["info", "debug", "trace"]`); `RUST_LOG`, when set, wins. Colours only on a terminal.
pub fn init(verbose: u8, levels: [&str; 3]) {
    use std::io::IsTerminal;
    let default = levels[usize::from(verbose.min(2))];
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
