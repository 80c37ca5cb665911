//! What the tests of every crate share: the repository's root, loopback ports for servers,
//! guards for the processes a test starts, and bounded waits. Each crate's own `support`
//! module adds what is particular to it (its binaries, its fixtures).
//!
//! Tests only: no crate depends on this one outside `[dev-dependencies]`.

// Tests fail loudly: a panic is how a helper reports that the test cannot go on.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// The repository's root.
pub fn repo() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).map(Path::to_path_buf).unwrap_or_else(|| here.to_path_buf())
}

/// Standard output or error as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits (checking every 50 ms) until `f` holds; fails the test after `limit`.
pub fn wait(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first port of the kernel's ephemeral range (Linux default 32768).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|p| p.parse::<u16>().ok()))
        .unwrap_or(32768)
}

/// A loopback port for a server whose address must be known before it starts, or that
/// restarts on the same one (the controller, Mosquitto, an S3 server, a receiver of
/// notifications), or for an address where nothing must listen.
///
/// Not a port bound and dropped: ports come from below the kernel's ephemeral range, so no
/// outgoing connection and no `bind(0)` (of this or another process) is ever given one; they
/// are handed out once per test process, from a start that differs between processes, and
/// one that some other process holds (TCP or UDP) is skipped. Servers whose address can be
/// read back once they listen bind port 0 instead.
pub fn port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let (low, high) = (10_000u16, ephemeral_start().max(12_000));
    let span = high - low;
    let start = (std::process::id() % u32::from(span)) as u16 + 1;
    let _ = NEXT.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..span {
        let p = low + NEXT.fetch_add(1, Ordering::SeqCst) % span;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if tcp && std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no free loopback port between {low} and {high}");
}

/// A process started by a test: killed when dropped, so that a failed test leaves none.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Proc {
    /// SIGTERM, then wait (at most 10 s, then SIGKILL).
    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub fn kill9(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Copies a folder, keeping symbolic links as links.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let t = e.file_type().expect("type");
        let dest = to.join(e.file_name());
        if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).expect("link"), &dest).expect("symlink");
        } else if t.is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Runs a program with `args` in `cwd`; its output.
pub fn run(program: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(program).args(args).current_dir(cwd).output().unwrap_or_else(|e| panic!("{}: {e}", program.display()))
}

/// A `POST` of a JSON `body` to `127.0.0.1:<port><path>` (HTTP/1.1, the connection closed
/// after it): the status code and the body of the answer.
pub fn http_post(port: u16, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let code = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

/// The Python of a virtual environment the tests need: `$<env_var>` when it is set (a Python
/// with the packages), else `target/<dir>` under the repository, created with
/// `pip install <packages>` when `check` (Python code) fails there (`tests/run` creates them
/// beforehand). One test of a process installs at a time; each environment is checked once.
pub fn venv_python(env_var: &str, dir: &str, check: &str, packages: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        return PathBuf::from(p);
    }
    // The environments found ready by this process (checked once: an import can take seconds).
    static READY: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut ready_ones = READY.lock().unwrap_or_else(|e| e.into_inner());
    let venv = repo().join("target").join(dir);
    let py = venv.join("bin/python");
    if ready_ones.iter().any(|d| d == dir) {
        return py;
    }
    let ready = Command::new(&py).args(["-c", check]).output().is_ok_and(|o| o.status.success());
    if !ready {
        eprintln!("installing {} into {} (once; a few minutes)", packages.join(" "), venv.display());
        let st = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 -m venv");
        assert!(st.success(), "cannot create {}", venv.display());
        let st = Command::new(venv.join("bin/pip")).args(["install", "-q"]).args(packages).status().expect("pip");
        assert!(st.success(), "pip install {} failed", packages.join(" "));
    }
    ready_ones.push(dir.to_string());
    py
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_free_and_outside_the_ephemeral_range() {
        let a: Vec<u16> = (0..20).map(|_| port()).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(a.len(), b.len(), "{a:?}");
        assert!(a.iter().all(|p| *p >= 10_000 && *p < ephemeral_start().max(12_000)), "{a:?}");
        // A port some other socket holds is not handed out.
        let held = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let taken = held.local_addr().expect("addr").port();
        assert!((0..50).map(|_| port()).all(|p| p != taken));
    }

    #[test]
    fn the_root_holds_the_workspace() {
        assert!(repo().join("Cargo.toml").is_file() && repo().join("agent").is_dir());
    }
}
