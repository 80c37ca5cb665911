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

#[cfg(test)]
mod tests {
    #[test]
    fn redacted_urls_keep_no_secret() {
        assert_eq!(super::redact("https://user:s3cret@host:5000/ams-alert?token=abc"), "https://host:5000/ams-alert");
        assert_eq!(super::redact("http://127.0.0.1:9000/x"), "http://127.0.0.1:9000/x");
        assert_eq!(super::redact("http://h"), "http://h");
        assert_eq!(super::redact("https://h:5000?token=abc"), "https://h:5000");
        assert_eq!(super::redact("https://u:p@h#frag"), "https://h");
    }
}
