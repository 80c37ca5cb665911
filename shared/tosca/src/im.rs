//! The Infrastructure Manager's files: `im/auth.dat` (the credentials IM is given) and
//! `im/infras.yaml` (the infrastructures `toscarizer deploy` created).
//!
//! `auth.dat` holds one credential per line, `key = value` pairs separated by `;`:
//!
//! ```text
//! id = im; type = InfrastructureManager; username = user; password = pass
//! id = ec2; type = EC2; username = AK; password = SK
//! ```
//!
//! Lines starting with `#` and blank lines are skipped. Every value other than `id`, `type`
//! and `host` is kept as a [`Secret`]: errors name the line and the key, never a value.

use serde::{Deserialize, Serialize};

use aisprint_model::app::physical::Secret;

/// The keys whose values may be printed.
const PUBLIC_KEYS: &[&str] = &["id", "type", "host"];

/// One credential (one line of `auth.dat`).
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    /// 1-based line in the file.
    pub line: usize,
    pub fields: Vec<(String, Secret)>,
}

impl Credential {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.expose())
    }

    pub fn kind(&self) -> &str {
        self.get("type").unwrap_or("")
    }

    pub fn id(&self) -> Option<&str> {
        self.get("id")
    }
}

/// A parsed `auth.dat`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthFile {
    pub credentials: Vec<Credential>,
}

/// A problem in `auth.dat`: the line and what is wrong, without values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// 1-based; 0 for the whole file (then not shown).
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for AuthError {}

pub fn parse_auth(text: &str) -> Result<AuthFile, AuthError> {
    let mut credentials = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut fields: Vec<(String, Secret)> = Vec::new();
        for part in l.split(';') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((k, v)) = part.split_once('=') else {
                return Err(AuthError {
                    line,
                    message: "expected `key = value` pairs separated by `;`, found a part without `=`".into(),
                });
            };
            let k = k.trim();
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(AuthError { line, message: "a key is empty or not a plain name".into() });
            }
            if fields.iter().any(|(x, _)| x == k) {
                return Err(AuthError { line, message: format!("key `{k}` is given twice") });
            }
            fields.push((k.to_string(), Secret::new(v.trim())));
        }
        let c = Credential { line, fields };
        if c.get("type").is_none_or(str::is_empty) {
            return Err(AuthError {
                line,
                message: "the credential has no `type` (InfrastructureManager, EC2, OpenStack, OSCAR, Dummy, ...)"
                    .into(),
            });
        }
        credentials.push(c);
    }
    if credentials.is_empty() {
        return Err(AuthError { line: 0, message: "no credential: the file is empty".into() });
    }
    Ok(AuthFile { credentials })
}

impl AuthFile {
    /// The `InfrastructureManager` credential, required to talk to IM.
    pub fn im(&self) -> Result<&Credential, AuthError> {
        let c = self.credentials.iter().find(|c| c.kind() == "InfrastructureManager").ok_or_else(|| AuthError {
            line: 0,
            message: "no `type = InfrastructureManager` line: IM needs one (`id = im; type = InfrastructureManager; username = ...; password = ...`)".into(),
        })?;
        if c.get("token").is_none() && (c.get("username").is_none() || c.get("password").is_none()) {
            return Err(AuthError {
                line: c.line,
                message: "the InfrastructureManager credential needs `username` and `password`, or `token`".into(),
            });
        }
        Ok(c)
    }

    /// The credentials of one type (`OSCAR`, `EC2`, ...).
    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Credential> + 'a {
        self.credentials.iter().filter(move |c| c.kind() == kind)
    }

    /// The value of IM's `Authorization` header: the credentials, one per line, joined with
    /// the two characters `\n` (IM's REST convention). Keep it out of logs.
    pub fn header_value(&self) -> Secret {
        let lines: Vec<String> = self
            .credentials
            .iter()
            .map(|c| c.fields.iter().map(|(k, v)| format!("{k} = {}", v.expose())).collect::<Vec<_>>().join("; "))
            .collect();
        Secret::new(lines.join("\\n"))
    }

    /// Every secret value of the file (for scrubbing messages that might echo one).
    pub fn secrets(&self) -> Vec<&str> {
        self.credentials
            .iter()
            .flat_map(|c| c.fields.iter())
            .filter(|(k, v)| !PUBLIC_KEYS.contains(&k.as_str()) && v.expose().len() >= 3)
            .map(|(_, v)| v.expose())
            .collect()
    }
}

/// Replaces every occurrence of the given secrets in `text` by `***`.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    // Longest first: a secret that contains another is replaced whole.
    let mut secrets: Vec<&str> = secrets.to_vec();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        if !s.is_empty() && out.contains(s) {
            out = out.replace(s, "***");
        }
    }
    out
}

/// `im/infras.yaml`: the infrastructures created for a deployment, in creation order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Infras {
    #[serde(default)]
    pub infrastructures: Vec<InfraRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfraRecord {
    pub component: String,
    /// The infrastructure's URL at IM (`<im>/infrastructures/<id>`).
    pub url: String,
    /// The last state read from IM (`configured` once deployed).
    pub state: String,
    /// When it was created (RFC 3339, UTC).
    pub created: String,
    /// Why it failed (the end of IM's contextualisation log), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The cluster name of the document it was created from (a new `tosca` run draws new
    /// ones: the record then belongs to documents that no longer exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

impl Infras {
    pub fn get(&self, component: &str) -> Option<&InfraRecord> {
        self.infrastructures.iter().find(|r| r.component == component)
    }

    pub fn upsert(&mut self, rec: InfraRecord) {
        match self.infrastructures.iter_mut().find(|r| r.component == rec.component) {
            Some(r) => *r = rec,
            None => self.infrastructures.push(rec),
        }
    }

    pub fn remove(&mut self, component: &str) {
        self.infrastructures.retain(|r| r.component != component);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "# IM and a cloud\nid = im; type = InfrastructureManager; username = user; password = s3cret\n\nid = ec2; type = EC2; username = AKIAX; password = SKEY\n";

    #[test]
    fn parses_and_joins_with_a_literal_backslash_n() {
        let a = parse_auth(AUTH).expect("parse");
        assert_eq!(a.credentials.len(), 2);
        assert_eq!(a.credentials[1].line, 4);
        assert_eq!(a.im().expect("im").get("username"), Some("user"));
        assert_eq!(
            a.header_value().expose(),
            "id = im; type = InfrastructureManager; username = user; password = s3cret\\nid = ec2; type = EC2; username = AKIAX; password = SKEY"
        );
        assert_eq!(a.of_type("EC2").count(), 1);
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("s3cret") && !dbg.contains("SKEY"), "{dbg}");
    }

    #[test]
    fn errors_name_the_line_and_never_a_value() {
        let e = parse_auth("id = im; type = InfrastructureManager; username = u; password = p\nid = x; s3cretvaluewithoutequals and more\n").expect_err("bad");
        assert_eq!(e.line, 2);
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = parse_auth("id = x; username = u\n").expect_err("no type");
        assert!(e.to_string().contains("line 1") && e.to_string().contains("type"), "{e}");
        let a = parse_auth("id = one; type = OpenStack; host = h:5000; username = u; password = p\n").expect("parse");
        let e = a.im().expect_err("no im");
        assert!(e.message.contains("InfrastructureManager"), "{e}");
        assert!(!e.to_string().contains("line 0"), "{e}");
        let a = parse_auth("id = im; type = InfrastructureManager; username = u\n").expect("parse");
        assert!(a.im().expect_err("no password").message.contains("password"));
        assert!(parse_auth("\n# only a comment\n").is_err());
    }

    #[test]
    fn scrub_hides_secrets() {
        let a = parse_auth(AUTH).expect("parse");
        let s = scrub("IM said: user s3cret is not allowed (SKEY)", &a.secrets());
        assert!(!s.contains("s3cret") && !s.contains("SKEY"), "{s}");
        // A secret containing another is hidden whole.
        assert_eq!(scrub("admin / admin123", &["admin", "admin123"]), "*** / ***");
    }

    #[test]
    fn infras_upsert_and_remove() {
        let mut i = Infras::default();
        let rec = |c: &str, s: &str| InfraRecord {
            component: c.into(),
            url: format!("http://im/infrastructures/{c}"),
            state: s.into(),
            created: "t".into(),
            message: None,
            cluster: None,
        };
        i.upsert(rec("a", "pending"));
        i.upsert(rec("b", "configured"));
        i.upsert(rec("a", "configured"));
        assert_eq!(i.infrastructures.len(), 2);
        assert_eq!(i.get("a").map(|r| r.state.as_str()), Some("configured"));
        i.remove("a");
        assert!(i.get("a").is_none());
    }
}
