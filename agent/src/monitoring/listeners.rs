//! InfluxDB lines over UDP (no answer: dropped and counted when the recorder is behind) and
//! TCP (complete lines of what arrived in one commit; lines of at most 1 MiB; at most 256
//! connections, each closed after 5 minutes of silence).

use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::http::{lines_to_records, submit, AppState};
use super::recorder::Input;

pub(super) async fn udp_loop(sock: tokio::net::UdpSocket, app: AppState, cancel: CancellationToken) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let n = tokio::select! {
            _ = cancel.cancelled() => break,
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, _)) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "udp receive failed");
                    continue;
                }
            },
        };
        let (records, _) = lines_to_records(&String::from_utf8_lossy(&buf[..n]), &app, "udp", 1);
        if records.is_empty() {
            continue;
        }
        // No one to answer over UDP and no waiting either: when the recorder is behind, the
        // datagram's records are dropped and counted (as the kernel would drop datagrams).
        let k = records.len() as u64;
        match app.tx.try_send(Input::Records { records, reply: None }) {
            Ok(()) => {
                app.counters.accepted.fetch_add(k, Ordering::Relaxed);
            }
            Err(_) => {
                let before = app.counters.failed.fetch_add(k, Ordering::Relaxed);
                if before == 0 || before.is_power_of_two() {
                    tracing::warn!(records = k, "udp records dropped: the recorder is behind");
                }
            }
        }
    }
}

/// Longest line accepted over TCP.
const MAX_LINE: usize = 1 << 20;

/// TCP connections open at once at most, and how long one may stay silent.
const MAX_CONNECTIONS: usize = 256;
const IDLE: std::time::Duration = std::time::Duration::from_secs(300);

pub(super) async fn tcp_loop(l: tokio::net::TcpListener, app: AppState, cancel: CancellationToken, tasks: TaskTracker) {
    use tokio::io::AsyncReadExt;
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let conn = tokio::select! {
            _ = cancel.cancelled() => break,
            c = l.accept() => c,
        };
        let Ok((mut stream, peer)) = conn else { continue };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            app.counters.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, "{MAX_CONNECTIONS} line connections open already: refused");
            continue;
        };
        let (app, cancel) = (app.clone(), cancel.clone());
        tasks.spawn(async move {
            let _slot = slot;
            // What has arrived is taken whole: every complete line of it in one submit (one
            // commit), the incomplete tail kept for the next read.
            let mut pending: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                let n = tokio::select! {
                    _ = cancel.cancelled() => break,
                    r = tokio::time::timeout(IDLE, stream.read(&mut chunk)) => match r {
                        Ok(Ok(0)) | Ok(Err(_)) => 0,
                        Ok(Ok(n)) => n,
                        Err(_) => {
                            tracing::debug!(%peer, "an idle line connection closed");
                            0
                        }
                    },
                };
                let eof = n == 0;
                pending.extend_from_slice(&chunk[..n]);
                let cut =
                    if eof { pending.len() } else { pending.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) };
                if cut > 0 {
                    let text = String::from_utf8_lossy(&pending[..cut]).into_owned();
                    pending.drain(..cut);
                    let (records, _) = lines_to_records(&text, &app, "tcp", 1);
                    if let Err(e) = submit(&app, records).await {
                        tracing::warn!(%peer, error = %e, "tcp records not stored");
                    }
                }
                if pending.len() > MAX_LINE {
                    app.counters.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, "a line longer than 1 MiB: connection closed");
                    break;
                }
                if eof {
                    break;
                }
            }
        });
    }
}
