//! Rust source as the checks need it: comments, strings and characters blanked out (kept as
//! spaces, so that lines and columns stay where they were), and `#[cfg(test)]` modules found.

/// `text` with comments, string and character literals replaced by spaces (newlines kept).
pub fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, s: &[u8]| out.extend(s.iter().map(|&c| if c == b'\n' { b'\n' } else { b' ' }));
    while i < b.len() {
        let rest = &b[i..];
        let end = if rest.starts_with(b"//") {
            rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            block_comment(rest)
        } else if let Some(n) = raw_string(rest, i == 0 || !ident_char(b[i - 1])) {
            n
        } else if rest[0] == b'"' {
            string(rest)
        } else if rest[0] == b'\'' {
            char_literal(rest).unwrap_or(0)
        } else {
            0
        };
        if end == 0 {
            out.push(b[i]);
            i += 1;
        } else {
            blank(&mut out, &rest[..end]);
            i += end;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The length of a (nested) block comment at the start of `s`.
fn block_comment(s: &[u8]) -> usize {
    let (mut depth, mut i) = (0usize, 0usize);
    while i < s.len() {
        if s[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if s[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

/// The length of `r"..."`, `r#"..."#`, `br"..."` at the start of `s`, when it is one.
fn raw_string(s: &[u8], at_token_start: bool) -> Option<usize> {
    if !at_token_start {
        return None;
    }
    let start = if s.starts_with(b"br") {
        2
    } else if s.starts_with(b"r") {
        1
    } else {
        return None;
    };
    let hashes = s[start..].iter().take_while(|&&c| c == b'#').count();
    if s.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let body = start + hashes + 1;
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let at = s[body..].windows(close.len()).position(|w| w == close.as_slice())?;
    Some(body + at + close.len())
}

/// The length of a string literal at the start of `s`.
fn string(s: &[u8]) -> usize {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// The length of a character literal at the start of `s` (None for a lifetime).
fn char_literal(s: &[u8]) -> Option<usize> {
    if s.get(1) == Some(&b'\\') {
        let close = s[2..].iter().position(|&c| c == b'\'')?;
        return Some(close + 3);
    }
    // One character, perhaps several bytes, then the quote.
    let text = std::str::from_utf8(&s[1..s.len().min(6)]).ok().or_else(|| std::str::from_utf8(&s[1..2]).ok())?;
    let c = text.chars().next()?;
    (s.get(1 + c.len_utf8()) == Some(&b'\'')).then_some(2 + c.len_utf8())
}

/// The line (1-based) of byte offset `at`.
pub fn line_of(code: &str, at: usize) -> usize {
    code[..at].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The offset of the `}` that closes the `{` at `open` (or the end).
pub fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in code.bytes().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// The byte ranges of `#[cfg(test)]` modules (attribute to closing brace).
pub fn test_modules(code: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]").map(|p| p + from) {
        let after = &code[at + 12..];
        let trimmed = after.trim_start();
        let skipped = after.len() - trimmed.len();
        if let Some(rest) = trimmed.strip_prefix("mod ") {
            if let Some(brace) = rest.find(['{', ';']) {
                if rest.as_bytes()[brace] == b'{' {
                    let open = at + 12 + skipped + 4 + brace;
                    out.push((at, matching_brace(code, open)));
                }
            }
        }
        from = at + 12;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_strings_and_chars_are_blanked_lines_kept() {
        let src =
            "let a = \"crate::x {\"; // crate::y {\n/* crate::z\n */ let c = '{'; let r = r#\"}\"#; 'a: loop {}\n";
        let code = code_only(src);
        assert_eq!(code.len(), src.len());
        assert_eq!(code.lines().count(), src.lines().count());
        assert!(!code.contains("crate::"), "{code}");
        assert_eq!(code.matches('{').count(), 1, "{code}");
        assert!(code.contains("'a: loop {}"), "lifetimes and labels stay: {code}");
    }

    #[test]
    fn test_modules_are_found() {
        let code = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() { {} }\n}\nfn c() {}\n";
        let r = test_modules(code);
        assert_eq!(r.len(), 1);
        assert!(code[r[0].0..=r[0].1].ends_with("{} }\n}"));
    }
}
