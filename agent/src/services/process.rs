//! The command of one job: the script in `sh`, natively, natively in the job's control group,
//! or in a container; and the variables it runs with. Building the command does no IO: the
//! runner starts it.

use std::path::Path;

use tokio::process::Command;

/// The variables of a job: OSCAR's (`INPUT_FILE_PATH`, `TMP_OUTPUT_DIR`,
/// `STORAGE_OBJECT_KEY`), those the annotations package reads, then the service's own.
#[derive(Debug)]
pub struct Variables<'a> {
    pub input: &'a Path,
    pub tmp: &'a Path,
    pub file: &'a str,
    pub service: &'a str,
    pub seq: u64,
    /// When the job was accepted (Unix seconds).
    pub created: f64,
    pub resource: &'a str,
    /// Where the annotations package notes the function's start and end.
    pub times: &'a Path,
    pub agent_url: Option<&'a str>,
    pub own: Option<&'a indexmap::IndexMap<String, String>>,
}

impl Variables<'_> {
    pub fn list(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("INPUT_FILE_PATH".into(), self.input.display().to_string()),
            ("TMP_OUTPUT_DIR".into(), self.tmp.display().to_string()),
            ("STORAGE_OBJECT_KEY".into(), self.file.to_string()),
            ("COMPONENT_NAME".into(), self.service.to_string()),
            ("AISPRINT_JOB_ID".into(), format!("{}-{}", self.service, self.seq)),
            ("AISPRINT_JOB_START".into(), format!("{:.6}", self.created)),
            ("AISPRINT_RESOURCE".into(), self.resource.to_string()),
            ("AISPRINT_JOB_TIMES".into(), self.times.display().to_string()),
        ];
        if let Some(u) = self.agent_url {
            env.push(("AISPRINT_AGENT_URL".into(), u.to_string()));
        }
        if let Some(own) = self.own {
            env.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        env
    }
}

/// How the script runs.
#[derive(Debug)]
pub enum Isolation<'a> {
    /// A plain process.
    Native,
    /// A process that first waits until the agent has put it in the job's control group(s)
    /// (`name`, in `groups` hierarchies), then becomes the script.
    Group { name: &'a str, groups: usize },
    /// `runtime run` of `image`, the job's folders mounted at the same paths, the limits as
    /// `--cpus`/`--memory`, the variables from `env_file` (written by [`env_file`]: on the
    /// command line, `ps` would show them to every local user).
    Container {
        runtime: &'a str,
        image: &'a str,
        mounts: [&'a Path; 4],
        cpu: Option<f64>,
        memory: Option<u64>,
        env_file: &'a Path,
    },
}

/// The text of a container's `--env-file`: `KEY=VALUE` lines. A value over several lines
/// cannot be said in that format: it is left out, named in the error.
pub fn env_file(env: &[(String, String)]) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut left_out = Vec::new();
    for (k, v) in env {
        if k.contains(['=', '\n']) || v.contains('\n') {
            left_out.push(k.clone());
            continue;
        }
        text.push_str(k);
        text.push('=');
        text.push_str(v);
        text.push('\n');
    }
    (text, left_out)
}

/// The job's command, in `dir` (the script's folder), with `env`; its streams are the
/// caller's to set.
pub fn command(script: &Path, dir: &Path, env: Vec<(String, String)>, how: &Isolation) -> Command {
    let mut cmd = match how {
        Isolation::Container { runtime, image, mounts, cpu, memory, env_file } => {
            let mut c = Command::new(runtime);
            c.args(["run", "--rm", "--network", "host"]);
            for d in mounts {
                c.arg("-v").arg(format!("{0}:{0}", d.display()));
            }
            c.arg("-w").arg(dir);
            if let Some(cores) = cpu {
                c.arg("--cpus").arg(format!("{cores}"));
            }
            if let Some(bytes) = memory {
                c.arg("--memory").arg(bytes.to_string());
            }
            c.arg("--env-file").arg(env_file);
            c.arg(image).arg("sh").arg(script);
            c
        }
        Isolation::Group { name, groups } => {
            // A process can only be moved into a group once it exists: the shell waits.
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(super::limits::WAIT_FOR_GROUP)
                .arg(script)
                .env("AISPRINT_CGROUP", name)
                .env("AISPRINT_CGROUPS", groups.to_string());
            c
        }
        Isolation::Native => {
            let mut c = Command::new("sh");
            c.arg(script);
            c
        }
    };
    cmd.current_dir(dir).stdin(std::process::Stdio::null()).kill_on_drop(true);
    // A container's variables are in its env file; the runtime's own process gets none.
    if !matches!(how, Isolation::Container { .. }) {
        cmd.envs(env);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &Command) -> Vec<String> {
        c.as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    fn vars(own: Option<&indexmap::IndexMap<String, String>>) -> Vec<(String, String)> {
        Variables {
            input: Path::new("/b/in/x.jpg"),
            tmp: Path::new("/s/tmp/svc/7"),
            file: "x.jpg",
            service: "svc",
            seq: 7,
            created: 12.5,
            resource: "RaspPi",
            times: Path::new("/s/logs/svc/7.times"),
            agent_url: Some("http://127.0.0.1:8080"),
            own,
        }
        .list()
    }

    #[test]
    fn variables_are_oscars_then_the_annotations_then_the_services() {
        let own: indexmap::IndexMap<String, String> = [("MODEL".to_string(), "m.onnx".to_string())].into();
        let env = vars(Some(&own));
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("INPUT_FILE_PATH"), Some("/b/in/x.jpg"));
        assert_eq!(get("STORAGE_OBJECT_KEY"), Some("x.jpg"));
        assert_eq!(get("AISPRINT_JOB_ID"), Some("svc-7"));
        assert_eq!(get("AISPRINT_JOB_START"), Some("12.500000"));
        assert_eq!(get("AISPRINT_AGENT_URL"), Some("http://127.0.0.1:8080"));
        assert_eq!(env.last().map(|(k, _)| k.as_str()), Some("MODEL"));
    }

    #[test]
    fn native_grouped_and_container_commands() {
        let (script, dir) = (Path::new("/app/svc/script.sh"), Path::new("/app/svc"));
        let native = command(script, dir, vars(None), &Isolation::Native);
        assert_eq!(native.as_std().get_program(), "sh");
        assert_eq!(args(&native), ["/app/svc/script.sh"]);
        let grouped = command(script, dir, vars(None), &Isolation::Group { name: "svc-7", groups: 2 });
        assert_eq!(args(&grouped)[0], "-c");
        assert_eq!(args(&grouped)[2], "/app/svc/script.sh");
        let envs: Vec<_> = grouped.as_std().get_envs().map(|(k, _)| k.to_string_lossy().into_owned()).collect();
        assert!(envs.contains(&"AISPRINT_CGROUP".to_string()) && envs.contains(&"INPUT_FILE_PATH".to_string()));
        let mounts = [dir, Path::new("/b/in"), Path::new("/s/tmp/svc/7"), Path::new("/s/logs/svc")];
        let how = Isolation::Container {
            runtime: "podman",
            image: "reg/svc:1",
            mounts,
            cpu: Some(0.5),
            memory: Some(1 << 20),
            env_file: Path::new("/s/env/svc-7.env"),
        };
        let secret: indexmap::IndexMap<String, String> =
            [("TOKEN".to_string(), "s3cr3t".to_string()), ("TWO".to_string(), "a\nb".to_string())].into();
        let c = command(script, dir, vars(Some(&secret)), &how);
        assert_eq!(c.as_std().get_program(), "podman");
        let a = args(&c).join(" ");
        assert!(a.starts_with("run --rm --network host -v /app/svc:/app/svc -v /b/in:/b/in"), "{a}");
        assert!(a.contains("--cpus 0.5 --memory 1048576 --env-file /s/env/svc-7.env reg/svc:1"), "{a}");
        assert!(a.ends_with("reg/svc:1 sh /app/svc/script.sh"), "{a}");
        assert!(
            !a.contains("s3cr3t") && c.as_std().get_envs().next().is_none(),
            "no variable on the command line: {a}"
        );
        let (text, left_out) = env_file(&vars(Some(&secret)));
        assert!(text.contains("INPUT_FILE_PATH=/b/in/x.jpg\n") && text.ends_with("TOKEN=s3cr3t\n"), "{text}");
        assert_eq!(left_out, ["TWO"]);
    }
}
