//! A real Infrastructure Manager for the tests: the PyPI package `IM` (2.0.0) with its
//! `Dummy` cloud connector, in a network namespace of its own with only a loopback interface
//! (`ip netns`, which needs root), beside a server of placeholder configuration recipes.
//!
//! IM's Dummy VMs get the address 10.0.0.1 and IM then tries SSH to them: with no route,
//! each attempt fails at once, and `tests/im/run_im.py` lowers IM's waits so that states
//! settle in seconds. Commands run inside the namespace with `ImSite::aisprint`, or from a
//! test thread moved into it (`ImSite::enter`), whose children start there too.
//!
//! The IM virtual environment: `$AISPRINT_IM_PYTHON` if set, else `target/im-venv` (created
//! with `pip install IM==2.0.0` on first use; `.ci/run` creates it beforehand).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{repo, text};

pub const IM_PORT: u16 = 8800;
pub const ARTIFACTS_PORT: u16 = 8801;

/// The Python of a virtual environment with IM installed.
pub fn im_python() -> PathBuf {
    aisprint_test_support::venv_python("AISPRINT_IM_PYTHON", "im-venv", "import IM", &["IM==2.0.0"])
}

/// A network namespace with only loopback, IM and the artifacts server inside; removed on drop.
pub struct ImSite {
    ns: String,
    dir: tempfile::TempDir,
    im: Child,
    artifacts: Child,
}

impl ImSite {
    pub fn start(name: &str) -> ImSite {
        let python = im_python();
        let ns = format!("aisprint-{name}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        let out = Command::new("ip").args(["netns", "add", &ns]).output().expect("ip");
        assert!(out.status.success(), "`ip netns add` failed (these tests run as root): {}", text(&out.stderr));
        let out =
            Command::new("ip").args(["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]).output().expect("ip");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let dir = tempfile::tempdir().expect("tmp");
        // Placeholder recipes where IM looks for the node types' configuration steps.
        for f in ["lrms/kube_fe_install.yml", "lrms/kube_wn_install.yml", "oscar/oscar_install.yml", "ec3_install.yml"]
        {
            let p = dir.path().join("artifacts").join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, "---\n- hosts: all\n  tasks: []\n").expect("write");
        }
        let artifacts = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "python3",
                "-m",
                "http.server",
                &ARTIFACTS_PORT.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir.path().join("artifacts"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("artifacts.log")).expect("log"))
            .spawn()
            .expect("http.server");
        let im = Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(&python)
            .arg(repo().join("controller/tests/im/run_im.py"))
            .env("IM_PORT", IM_PORT.to_string())
            .env("IM_DIR", dir.path())
            // IM caches the recipes it fetches in ./tosca_cache.sqlite: one cache per site.
            .current_dir(dir.path())
            .stdout(std::fs::File::create(dir.path().join("im.out")).expect("out"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start IM");
        let site = ImSite { ns, dir, im, artifacts };
        std::fs::write(
            site.dir.path().join("auth.dat"),
            "id = im; type = InfrastructureManager; username = tester; password = im-s3cret\n",
        )
        .expect("auth");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, _) = site.query("GET", &format!("http://127.0.0.1:{IM_PORT}/version"));
            if status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "IM did not start: {}",
                std::fs::read_to_string(site.dir.path().join("im.out")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        site
    }

    /// Moves the calling thread into the namespace: what it connects to and the processes it
    /// starts from now on are there (the other threads stay where they were).
    pub fn enter(&self) {
        use std::os::fd::AsFd;
        let f = std::fs::File::open(format!("/run/netns/{}", self.ns)).expect("the namespace's file");
        rustix::thread::move_into_link_name_space(f.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
            .expect("setns into the IM namespace");
    }

    pub fn im_url(&self) -> String {
        format!("http://127.0.0.1:{IM_PORT}")
    }

    pub fn artifacts_url(&self) -> String {
        format!("http://127.0.0.1:{ARTIFACTS_PORT}/")
    }

    /// One request to IM from inside the namespace: (status, body).
    pub fn query(&self, method: &str, url: &str) -> (u16, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3"])
            .arg(repo().join("controller/tests/im/query.py"))
            .arg(self.dir.path().join("auth.dat"))
            .args([method, url])
            .output()
            .expect("query");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (v["status"].as_u64().unwrap_or(0) as u16, v["body"].as_str().unwrap_or("").to_string())
    }

    pub fn json(&self, url: &str) -> serde_json::Value {
        let (status, body) = self.query("GET", url);
        assert_eq!(status, 200, "GET {url}: {body}");
        serde_json::from_str(&body).expect("json")
    }

    /// `aisprint <args>` inside the namespace.
    pub fn aisprint(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, env!("CARGO_BIN_EXE_aisprint")])
            .args(args)
            .current_dir(cwd)
            .output()
            .expect("run aisprint")
    }

    /// `aisprint toscarizer <cmd> --application_dir <app> --base --im_url <this IM> <extra>`
    /// inside the namespace.
    pub fn toscarizer(&self, cwd: &Path, cmd: &str, app: &str, extra: &[&str]) -> Output {
        let url = self.im_url();
        let mut args = vec!["toscarizer", cmd, "--application_dir", app, "--base", "--im_url", &url];
        args.extend_from_slice(extra);
        self.aisprint(cwd, &args)
    }

    /// The paths IM fetched from the artifacts server.
    pub fn fetched(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("artifacts.log")).unwrap_or_default()
    }
}

impl Drop for ImSite {
    fn drop(&mut self) {
        let _ = self.im.kill();
        let _ = self.artifacts.kill();
        let _ = self.im.wait();
        let _ = self.artifacts.wait();
        let _ = Command::new("ip").args(["netns", "pids", &self.ns]).output().map(|o| {
            for pid in text(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).output();
            }
        });
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// The body of `system <name> ( ... )` in a RADL text.
pub fn radl_system<'a>(radl: &'a str, name: &str) -> &'a str {
    let start = radl.find(&format!("system {name} (")).unwrap_or_else(|| panic!("no system {name} in RADL:\n{radl}"));
    let rest = &radl[start..];
    &rest[..rest.find("\n)").unwrap_or(rest.len())]
}

pub fn write_auth(app: &Path, lines: &str) {
    std::fs::create_dir_all(app.join("im")).expect("mkdir");
    let p = app.join("im/auth.dat");
    std::fs::write(&p, lines).expect("auth");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

pub const DUMMY_AUTH: &str =
    "id = im; type = InfrastructureManager; username = tester; password = im-s3cret\nid = dummy; type = Dummy\n";
