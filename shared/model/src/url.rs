//! URLs in configurations: which name HTTP endpoints, and how to show one without its secrets.

/// Whether `u` names an HTTP endpoint (`http://` or `https://`).
pub fn is_http_url(u: &str) -> bool {
    u.starts_with("http://") || u.starts_with("https://")
}

/// A URL fit for logs and messages: without user information (`user:password@`) and query
/// (tokens), which may be secrets.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    // The authority ends at the first `/`, `?` or `#`; what follows a `?` or `#` is dropped.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest[..end].rsplit_once('@').map_or(&rest[..end], |(_, h)| h);
    let path = rest[end..].split(['?', '#']).next().unwrap_or("");
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

/// `base` and `rest` joined with exactly one `/` between them, however many either side has
/// (`http://h:8000` + `oscar/x.yml`, `http://h:8000//` + `/oscar/x.yml`: `http://h:8000/oscar/x.yml`).
pub fn join(base: &str, rest: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), rest.trim_start_matches('/'))
}

/// `u` as a folder: with exactly one `/` at its end.
pub fn folder(u: &str) -> String {
    join(u, "")
}

#[cfg(test)]
mod tests {
    #[test]
    fn joined_urls_have_one_slash_between() {
        for base in ["http://h:8000", "http://h:8000/", "http://h:8000//"] {
            for rest in ["oscar/x.yml", "/oscar/x.yml"] {
                assert_eq!(super::join(base, rest), "http://h:8000/oscar/x.yml");
            }
            assert_eq!(super::folder(base), "http://h:8000/");
        }
        assert_eq!(super::join("https://im.egi.eu/im/", "infrastructures"), "https://im.egi.eu/im/infrastructures");
    }

    #[test]
    fn redacted_urls_keep_no_secret() {
        assert_eq!(super::redact("https://user:s3cret@host:5000/ams-alert?token=abc"), "https://host:5000/ams-alert");
        assert_eq!(super::redact("http://127.0.0.1:9000/x"), "http://127.0.0.1:9000/x");
        assert_eq!(super::redact("http://h"), "http://h");
        assert_eq!(super::redact("https://h:5000?token=abc"), "https://h:5000");
        assert_eq!(super::redact("https://u:p@h#frag"), "https://h");
    }
}
