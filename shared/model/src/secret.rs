//! Values that must never be printed: keys, passwords, tokens. A [`Secret`] serializes as its
//! value (it goes into the files and requests that need it), and shows as `<redacted>` in
//! `Debug` output; [`Secret::expose`] is the one way to read it, for the few places that send
//! it.

use serde::{Deserialize, Serialize};

/// A credential: serialized as the plain string, shown as `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the few places that must send or write it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_is_written_as_itself_and_never_shown() {
        let s = Secret::new("s3cr3t");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(serde_json::to_string(&s).expect("json"), "\"s3cr3t\"");
        assert_eq!(s.expose(), "s3cr3t");
    }
}
