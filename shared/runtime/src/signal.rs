//! The one shutdown signal of both binaries: SIGINT or SIGTERM.

/// Completes at the first SIGINT or SIGTERM (SIGINT only where SIGTERM cannot be watched).
pub async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
