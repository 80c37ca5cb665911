//! The controller's tests that assert on measured times (a campaign's response times and the
//! models trained on them), in a binary of their own: cargo runs test binaries one after
//! another, so no other test's processes share the cores while these measure. In the `it`
//! binary, a neighbour test starting agents and servers made single runs of the FaaS unit 60%
//! to 80% slower than their repetitions.

#[path = "../it/support/mod.rs"]
mod support;

mod campaign;
mod demo;
mod runtime;
mod runtime_im;

/// Held by each test for its whole run: the tests of this binary run one at a time too.
pub fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
