//! Packing built binaries: a `.tar.gz` per binary and target (with the README, LICENSE, the
//! systemd unit and a sample configuration) and a `.deb` that installs a hardened service.
//! The archives are made by `tar` and `dpkg-deb` (the Debian tool itself), owned by root.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::targets::Target;
use crate::{run, Error};

/// A binary to pack: the agent or the controller.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    /// The cargo package that builds it, and the profile of its artifacts.
    pub krate: &'static str,
    pub profile: &'static str,
    /// The executable's name.
    pub bin: &'static str,
    /// The Debian package's name.
    pub package: &'static str,
    /// The other AI-SPRINT package (they share the `aisprint` user).
    pub other: &'static str,
    pub unit: &'static str,
    pub config: &'static str,
    pub state: &'static str,
    pub summary: &'static str,
}

pub const AGENT: Binary = Binary {
    krate: "aisprint-agent",
    // For size: it runs on small boards, its budget is 8 MB.
    profile: "dist-agent",
    bin: "aisprint-agent",
    package: "aisprint-agent",
    other: "aisprint",
    unit: "aisprint-agent.service",
    config: "agent.yaml",
    state: "aisprint-agent",
    summary: "AI-SPRINT edge agent: host and application metrics, durable buffer, QoS checks, services",
};

pub const CONTROLLER: Binary = Binary {
    krate: "aisprint-controller",
    // For speed: SPACE4AI-D.
    profile: "dist",
    bin: "aisprint",
    package: "aisprint",
    other: "aisprint-agent",
    unit: "aisprint-controller.service",
    config: "controller.yaml",
    state: "aisprint-controller",
    summary: "AI-SPRINT controller and command line: design, SPACE4AI-D/R, provisioning, the agents' service",
};

/// What the sample configurations carry until edited: the packages do not start a service
/// whose configuration still has it.
pub const SAMPLE_MARK: &str = "CHANGE-ME";

fn copy(from: &Path, to: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::copy(from, to).map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("{}: {e}", to.display()))
}

fn write(to: &Path, text: &str, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::write(to, text).map_err(|e| format!("{}: {e}", to.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("{}: {e}", to.display()))
}

/// One binary built for one target, to pack.
pub struct Pack<'a> {
    pub root: &'a Path,
    /// Where the archives go.
    pub out: &'a Path,
    pub b: &'a Binary,
    pub t: &'a Target,
    pub version: &'a str,
    pub exe: &'a Path,
    /// The sample configuration's text.
    pub sample: &'a str,
}

impl Pack<'_> {
    /// A fresh folder to lay the archive out in.
    fn work(&self, name: &str) -> PathBuf {
        let work = self.out.join(".work").join(name);
        let _ = std::fs::remove_dir_all(&work);
        work
    }

    /// `<out>/<bin>-<version>-<target>.tar.gz`: one folder with the binary, README, LICENSE,
    /// the unit and the sample configuration.
    pub fn tarball(&self) -> Result<PathBuf, Error> {
        let (b, root) = (self.b, self.root);
        let name = format!("{}-{}-{}", b.bin, self.version, self.t.name);
        let work = self.work(&name);
        copy(self.exe, &work.join(b.bin), 0o755)?;
        copy(&root.join("README.md"), &work.join("README.md"), 0o644)?;
        copy(&root.join("LICENSE"), &work.join("LICENSE"), 0o644)?;
        copy(&root.join("deploy").join(b.unit), &work.join(b.unit), 0o644)?;
        write(&work.join(format!("{}.sample", b.config)), self.sample, 0o644)?;
        let file = self.out.join(format!("{name}.tar.gz"));
        run(Command::new("tar")
            .args(["--owner=0", "--group=0", "--numeric-owner", "--sort=name", "-czf"])
            .arg(&file)
            .arg("-C")
            .arg(work.parent().expect("parent"))
            .arg(&name))?;
        Ok(file)
    }

    /// `<out>/<package>_<version>_<arch>[-armv6].deb`.
    pub fn deb(&self) -> Result<PathBuf, Error> {
        let (b, t, root, version) = (self.b, self.t, self.root, self.version);
        let work = self.work(&format!("deb-{}-{}", b.package, t.name));
        copy(self.exe, &work.join("usr/bin").join(b.bin), 0o755)?;
        copy(&root.join("deploy").join(b.unit), &work.join("lib/systemd/system").join(b.unit), 0o644)?;
        write(&work.join("etc/aisprint").join(b.config), self.sample, 0o640)?;
        let doc = work.join("usr/share/doc").join(b.package);
        copy(&root.join("LICENSE"), &doc.join("copyright"), 0o644)?;
        copy(&root.join("README.md"), &doc.join("README.md"), 0o644)?;
        let size_kb = std::fs::metadata(self.exe).map(|m| m.len() / 1024 + 64).unwrap_or(0);
        let control = format!(
            "Package: {}\nVersion: {version}\nArchitecture: {}\nMaintainer: aisprint-rs developers <aisprint-rs@users.noreply.github.com>\nInstalled-Size: {size_kb}\nSection: net\nPriority: optional\nHomepage: https://github.com/aisprint-rs/aisprint\nDescription: {}\n Built for {} ({}).\n",
            b.package, t.deb_arch, b.summary, t.triple, t.note
        );
        write(&work.join("DEBIAN/control"), &control, 0o644)?;
        write(&work.join("DEBIAN/conffiles"), &format!("/etc/aisprint/{}\n", b.config), 0o644)?;
        for s in ["postinst", "prerm", "postrm"] {
            write(&work.join("DEBIAN").join(s), &script(root, s, b)?, 0o755)?;
        }
        // Two ARM targets share Debian's armhf: the ARMv6 one says so in its file name.
        let suffix = if t.name == "arm" { "-armv6" } else { "" };
        let file = self.out.join(format!("{}_{version}_{}{suffix}.deb", b.package, t.deb_arch));
        run(Command::new("dpkg-deb").args(["--root-owner-group", "-Zgzip", "--build"]).arg(&work).arg(&file))?;
        Ok(file)
    }
}

/// The maintainer script `name` (deploy/debian/<name>) for this package.
fn script(root: &Path, name: &str, b: &Binary) -> Result<String, Error> {
    let p = root.join("deploy/debian").join(name);
    let t = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(t.replace("@PKG@", b.package)
        .replace("@UNIT@", b.unit.trim_end_matches(".service"))
        .replace("@CONFIG@", b.config)
        .replace("@STATE@", b.state)
        .replace("@OTHER@", b.other)
        .replace("@SAMPLE_MARK@", SAMPLE_MARK))
}
