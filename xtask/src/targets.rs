//! The release targets: what each is called, how it is cross-compiled, what it packages as.

/// A target of the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The short name in artifact names (`aarch64`).
    pub name: &'static str,
    pub triple: &'static str,
    /// The C cross compiler (ring's C code) and the linker; `None`: the host's `cc`.
    pub gcc: Option<&'static str>,
    /// The Debian packages that give it.
    pub gcc_package: &'static str,
    /// The architecture of its `.deb`.
    pub deb_arch: &'static str,
    /// Statically linked (musl): one binary for every distribution.
    pub static_musl: bool,
    /// Built with the standard library compiled from source (`-Z build-std`), for targets
    /// whose precompiled standard library rustup does not give.
    pub build_std: bool,
    /// For whom, and why it links as it does.
    pub note: &'static str,
}

pub const ALL: [Target; 4] = [
    Target {
        name: "x86_64",
        triple: "x86_64-unknown-linux-musl",
        gcc: None,
        gcc_package: "gcc",
        deb_arch: "amd64",
        static_musl: true,
        build_std: false,
        note: "AMD64 servers and VMs; static (musl)",
    },
    Target {
        name: "aarch64",
        triple: "aarch64-unknown-linux-musl",
        gcc: Some("aarch64-linux-gnu-gcc"),
        gcc_package: "gcc-aarch64-linux-gnu",
        deb_arch: "arm64",
        static_musl: true,
        build_std: false,
        note: "Raspberry Pi 3/4/5 with a 64-bit OS, Jetson, Graviton; static (musl)",
    },
    Target {
        name: "armv7",
        triple: "armv7-unknown-linux-gnueabihf",
        gcc: Some("arm-linux-gnueabihf-gcc"),
        gcc_package: "gcc-arm-linux-gnueabihf libc6-dev-armhf-cross",
        deb_arch: "armhf",
        static_musl: false,
        build_std: false,
        note: "Raspberry Pi 2/3/4 with 32-bit Raspberry Pi OS; glibc, dynamically linked: rustup's \
               mirror here has no musl standard library for armv7 (rust-std-armv7-unknown-linux-musleabihf: 404)",
    },
    Target {
        name: "arm",
        triple: "arm-unknown-linux-gnueabihf",
        gcc: Some("arm-linux-gnueabihf-gcc"),
        gcc_package: "gcc-arm-linux-gnueabihf libc6-dev-armhf-cross",
        deb_arch: "armhf",
        static_musl: false,
        build_std: true,
        note: "ARMv6 (Raspberry Pi Zero/1), experimental: glibc, dynamically linked, standard library \
               built from source (rustup's mirror has no standard library for ARMv6: 404); not run on \
               an ARMv6 core yet (Debian's armhf loader and libc are ARMv7)",
    },
];

/// What `dist` builds unless told: the targets verified to run (ARMv6 is not yet).
pub const DEFAULT: [&str; 3] = ["x86_64", "aarch64", "armv7"];

impl Target {
    pub fn by_name(name: &str) -> Option<Target> {
        ALL.iter().copied().find(|t| t.name == name || t.triple == name)
    }

    /// The environment of a cargo build for this target: its C compiler and linker.
    pub fn env(&self) -> Vec<(String, String)> {
        let under = self.triple.replace('-', "_");
        let mut env = Vec::new();
        if let Some(gcc) = self.gcc {
            env.push((format!("CARGO_TARGET_{}_LINKER", under.to_uppercase()), gcc.to_string()));
            env.push((format!("CC_{under}"), gcc.to_string()));
            env.push((format!("AR_{under}"), gcc.replace("-gcc", "-ar")));
        } else {
            // ring's C code is freestanding: the host's gcc compiles it for musl as well.
            env.push((format!("CC_{under}"), "cc".to_string()));
        }
        if self.name == "arm" {
            // ARMv6 with VFP, as Raspberry Pi OS builds for the Pi Zero/1.
            env.push((format!("CFLAGS_{under}"), "-march=armv6zk -mfpu=vfp -mfloat-abi=hard -marm".into()));
        }
        env
    }
}
