//! SCONE for components annotated with `security(trustedExecution, networkShield,
//! filesystemShield)`: the session policy the confidential image runs under (the shape of the
//! user guide's Step 7) and the `sconify_image` invocation that turns the native image into
//! the confidential one.

/// The security a component asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shields {
    pub trusted_execution: bool,
    pub network_shield: bool,
    pub filesystem_shield: bool,
}

impl Shields {
    pub fn any(&self) -> bool {
        self.trusted_execution || self.network_shield || self.filesystem_shield
    }
}

/// An image reference split into repository and tag (a registry's port is not a tag).
fn split_tag(image: &str) -> (&str, Option<&str>) {
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], Some(&image[i + 1..])),
        _ => (image, None),
    }
}

/// The confidential image of a native one: its name with `-sgx` (a tag stays a tag).
pub fn confidential_image(image: &str) -> String {
    let (repo, tag) = split_tag(image);
    match tag {
        Some(t) => format!("{repo}-sgx:{t}"),
        None => format!("{repo}-sgx"),
    }
}

/// The session name: `<component>-<random>/<image path with dashes>-sgx`, as in the guide.
pub fn session_name(component: &str, image: &str, random: &str) -> String {
    let (repo, _) = split_tag(image);
    format!("{component}-{random}/{}-sgx", repo.replace([':', '/'], "-"))
}

/// The session policy (YAML). The enclave measurement (`mrenclaves`) and the file-system
/// protection key and tag exist only once `sconify_image` has built the confidential image;
/// it writes them into this policy when it uploads it to the CAS. `sgx`: the resource has
/// SGX (SCONE's hardware mode; otherwise its simulation mode, with the shields but without
/// an enclave, on a resource trusted for its secure or measured boot).
pub fn session_policy(component: &str, image: &str, shields: &Shields, sgx: bool, random: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# SCONE session policy of component {component} (image {image}).\n\
         # Requested: trustedExecution={}, networkShield={}, filesystemShield={}.\n\
         # sconify_image fills in mrenclaves{} when it builds {}.\n",
        shields.trusted_execution,
        shields.network_shield,
        shields.filesystem_shield,
        if shields.filesystem_shield { ", fspf_key and fspf_tag" } else { "" },
        confidential_image(image)
    ));
    out.push_str(&format!("name: {}\nversion: \"0.3\"\n", session_name(component, image, random)));
    out.push_str(
        "# Access control: only the data owner (CREATOR) can read or update the session;\n\
         # even the owner cannot read the session secrets or delete the session.\n\
         access_policy:\n  read:\n  - CREATOR\n  update:\n  - CREATOR\n",
    );
    out.push_str("services:\n- name: service\n  image_name: service_image\n  mrenclaves: []\n");
    out.push_str(&format!(
        "  command: \"python3\"\n  environment:\n    SCONE_MODE: {}\n",
        if sgx { "hw" } else { "sim" }
    ));
    out.push_str("    LD_LIBRARY_PATH: \"/lib:/usr/local/lib:\"\n");
    out.push_str("    PATH: \"/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\n");
    out.push_str("    SCONE_HOST_PATH: \"/etc/resolv.conf:/etc/hosts\"\n");
    out.push_str(&format!("    COMPONENT_NAME: \"{component}\"\n"));
    out.push_str(&format!("  pwd: /opt/{component}\n"));
    if shields.filesystem_shield {
        out.push_str("  fspf_path: /fspf/fs.fspf\n  fspf_key: \"\"\n  fspf_tag: \"\"\n");
    }
    out.push_str("images:\n- name: service_image\n");
    out.push_str(
        "security:\n  attestation:\n    tolerate: [hyperthreading, insecure-igpu, outdated-tcb, software-hardening-needed, insecure-configuration, debug-mode]\n    ignore_advisories: \"*\"\n",
    );
    out
}

/// The command that builds the confidential image (AI-SPRINT's wrapper of `sconify_image`).
pub fn sconify_command(image: &str, application_dir: &str) -> String {
    format!(
        "sconify_image_ai_sprint --from={image} --to={} --application_dir {application_dir}",
        confidential_image(image)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_policy() {
        assert_eq!(confidential_image("docker.io/me/c_base_amd64:latest"), "docker.io/me/c_base_amd64-sgx:latest");
        assert_eq!(confidential_image("localhost:5000/me/c"), "localhost:5000/me/c-sgx");
        assert_eq!(
            session_name("mask-detector", "registry.gitlab.polimi.it/ai-sprint/md:latest", "8574"),
            "mask-detector-8574/registry.gitlab.polimi.it-ai-sprint-md-sgx"
        );
        assert_eq!(session_name("c", "localhost:5000/me/c:1", "1"), "c-1/localhost-5000-me-c-sgx");
        let p = session_policy(
            "c",
            "r/c",
            &Shields { trusted_execution: true, network_shield: false, filesystem_shield: true },
            true,
            "1",
        );
        let v: serde_yaml::Value = serde_yaml::from_str(&p).expect("yaml");
        assert_eq!(v["version"].as_str(), Some("0.3"));
        assert_eq!(v["access_policy"]["read"][0].as_str(), Some("CREATOR"));
        assert_eq!(v["services"][0]["environment"]["SCONE_MODE"].as_str(), Some("hw"));
        assert_eq!(v["services"][0]["fspf_path"].as_str(), Some("/fspf/fs.fspf"));
        assert_eq!(v["security"]["attestation"]["ignore_advisories"].as_str(), Some("*"));
        let p = session_policy("c", "r/c", &Shields { trusted_execution: true, ..Default::default() }, false, "1");
        assert!(!p.contains("fspf_path"));
        assert!(p.contains("SCONE_MODE: sim"), "{p}");
    }
}
