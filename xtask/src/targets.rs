//! The release targets: what each is called, how it is cross-compiled, what it packages as.

/// A target of the release. Every one links statically (musl): one binary for every
/// distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The short name in artifact names (`aarch64`).
    pub name: &'static str,
    pub triple: &'static str,
    /// The C compiler (ring's and mimalloc's C code): a gcc wrapper that compiles against
    /// Debian's musl for the architecture, so that C code sees the C library it links with.
    pub cc: &'static str,
    /// The linker; `None`: the host's `cc`.
    pub linker: Option<&'static str>,
    /// The archiver; `None`: the host's `ar`.
    pub ar: Option<&'static str>,
    /// Extra flags for the C compiler.
    pub cflags: Option<&'static str>,
    /// The Debian packages that give them (`<package>:<arch>`: of a foreign architecture).
    pub packages: &'static str,
    /// The architecture of its `.deb`.
    pub deb_arch: &'static str,
    /// How its standard library comes.
    pub std: Std,
    /// For whom, and how it links.
    pub note: &'static str,
}

/// Where a target's standard library and C library come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Std {
    /// rustup's precompiled standard library, with its own musl (self-contained).
    Rustup,
    /// The standard library built from source (`-Z build-std`, rustup's `rust-src`), for a
    /// triple whose precompiled one rustup's mirror does not give, linked against Debian's musl
    /// for the architecture (`musl-dev:<arch>`, whose gcc wrapper is the target's `cc` and
    /// linker). `gcc` is the cross compiler behind it: its `libgcc_eh.a` unwinds, as `libunwind.a`.
    FromSource { gcc: &'static str },
}

pub const ALL: [Target; 4] = [
    Target {
        name: "x86_64",
        triple: "x86_64-unknown-linux-musl",
        cc: "x86_64-linux-musl-gcc",
        linker: None,
        ar: None,
        cflags: None,
        packages: "gcc musl-dev",
        deb_arch: "amd64",
        std: Std::Rustup,
        note: "AMD64 servers and VMs; static (musl)",
    },
    Target {
        name: "aarch64",
        triple: "aarch64-unknown-linux-musl",
        cc: "aarch64-linux-musl-gcc",
        linker: Some("aarch64-linux-gnu-gcc"),
        ar: Some("aarch64-linux-gnu-ar"),
        cflags: None,
        packages: "gcc-aarch64-linux-gnu musl-dev:arm64",
        deb_arch: "arm64",
        std: Std::Rustup,
        note: "Raspberry Pi 3/4/5 with a 64-bit OS, Jetson, Graviton; static (musl)",
    },
    Target {
        name: "armv7",
        triple: "armv7-unknown-linux-musleabihf",
        cc: "arm-linux-musleabihf-gcc",
        linker: Some("arm-linux-musleabihf-gcc"),
        ar: Some("arm-linux-gnueabihf-ar"),
        cflags: None,
        packages: "gcc-arm-linux-gnueabihf musl-dev:armhf",
        deb_arch: "armhf",
        std: Std::FromSource { gcc: "arm-linux-gnueabihf-gcc" },
        note: "Raspberry Pi 2/3/4 with 32-bit Raspberry Pi OS; static (musl: Debian's for armhf, \
               the standard library built from source)",
    },
    Target {
        name: "arm",
        triple: "arm-unknown-linux-musleabi",
        cc: "arm-linux-musleabi-gcc",
        linker: Some("arm-linux-musleabi-gcc"),
        ar: Some("arm-linux-gnueabi-ar"),
        // ARMv6 with the ARM instruction set, the Pi Zero/1's ARM1176; floats in software
        // registers (musleabi), as Debian's armel musl is built.
        cflags: Some("-march=armv6zk -marm"),
        packages: "gcc-arm-linux-gnueabi musl-dev:armel",
        deb_arch: "armhf",
        std: Std::FromSource { gcc: "arm-linux-gnueabi-gcc" },
        note: "ARMv6: Raspberry Pi Zero/1 (and every later 32-bit Pi); static (musl: Debian's for \
               armel, soft-float calls, the standard library built from source)",
    },
];

impl Target {
    pub fn by_name(name: &str) -> Option<Target> {
        ALL.iter().copied().find(|t| t.name == name || t.triple == name)
    }

    /// The commands the build runs, to check before it starts.
    pub fn tools(&self) -> Vec<&'static str> {
        let mut t = vec![self.cc];
        t.extend(self.linker);
        t.extend(self.ar);
        if let Std::FromSource { gcc } = self.std {
            t.push(gcc);
        }
        t
    }

    /// The environment of a cargo build for this target: its C compiler, linker and archiver.
    pub fn env(&self) -> Vec<(String, String)> {
        let under = self.triple.replace('-', "_");
        let upper = under.to_uppercase();
        let mut env = Vec::new();
        env.push((format!("CC_{under}"), self.cc.to_string()));
        if let Some(linker) = self.linker {
            env.push((format!("CARGO_TARGET_{upper}_LINKER"), linker.to_string()));
        }
        if let Some(ar) = self.ar {
            env.push((format!("AR_{under}"), ar.to_string()));
        }
        if let Some(flags) = self.cflags {
            env.push((format!("CFLAGS_{under}"), flags.to_string()));
        }
        env
    }
}
