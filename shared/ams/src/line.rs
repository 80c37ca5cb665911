//! InfluxDB line protocol (the format Telegraf's `socket_listener` and `influxdb_listener`
//! accept): `measurement[,tag=value...] field=value[,field=value...] [timestamp]`, one point
//! per line, `#` starts a comment. Numbers (`1.5`, `3i`, `3u`) and booleans become `f64`
//! fields; string fields are kept apart (we store numbers only). Timestamps are nanoseconds.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Number(f64),
    Text(String),
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub measurement: String,
    pub tags: Vec<(String, String)>,
    pub fields: Vec<(String, FieldValue)>,
    /// Nanoseconds since the Unix epoch.
    pub time_ns: Option<i64>,
}

/// Why a line was refused: the line number (1-based), the column (1-based) and what was
/// expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for LineError {}

/// Parses every line of `text`; good lines and errors come back together, so that one bad
/// line does not lose the others.
pub fn parse(text: &str) -> (Vec<Line>, Vec<LineError>) {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        match parse_line(l) {
            Ok(p) => lines.push(p),
            Err((column, message)) => errors.push(LineError { line: i + 1, column: column + 1, message }),
        }
    }
    (lines, errors)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Reads an identifier up to an unescaped byte of `stops`; `\x` keeps `x`.
    fn ident(&mut self, stops: &[u8]) -> String {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'\\' && self.i + 1 < self.s.len() {
                let n = self.s[self.i + 1];
                if stops.contains(&n) || n == b'\\' || n == b'=' || n == b',' || n == b' ' || n == b'"' {
                    out.push(n);
                    self.i += 2;
                    continue;
                }
            }
            if stops.contains(&c) {
                break;
            }
            out.push(c);
            self.i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

type Failure = (usize, String);

fn parse_line(l: &str) -> Result<Line, Failure> {
    let mut c = Cursor { s: l.as_bytes(), i: 0 };
    let measurement = c.ident(b", ");
    if measurement.is_empty() {
        return Err((0, "expected a measurement name".into()));
    }
    let mut tags = Vec::new();
    while c.peek() == Some(b',') {
        c.i += 1;
        let at = c.i;
        let k = c.ident(b"=, ");
        if c.peek() != Some(b'=') || k.is_empty() {
            return Err((at, "expected a tag as key=value".into()));
        }
        c.i += 1;
        let v = c.ident(b", ");
        if v.is_empty() {
            return Err((c.i, format!("tag `{k}` has no value")));
        }
        tags.push((k, v));
    }
    if c.peek() != Some(b' ') {
        return Err((c.i, "expected a space before the fields".into()));
    }
    while c.peek() == Some(b' ') {
        c.i += 1;
    }
    let mut fields = Vec::new();
    loop {
        let at = c.i;
        let k = c.ident(b"=, ");
        if c.peek() != Some(b'=') || k.is_empty() {
            return Err((at, "expected a field as key=value".into()));
        }
        c.i += 1;
        let v = field_value(&mut c).map_err(|m| (c.i, format!("field `{k}`: {m}")))?;
        fields.push((k, v));
        match c.peek() {
            Some(b',') => c.i += 1,
            _ => break,
        }
    }
    let mut time_ns = None;
    if c.peek() == Some(b' ') {
        while c.peek() == Some(b' ') {
            c.i += 1;
        }
        let at = c.i;
        let rest = l[c.i..].trim_end();
        if !rest.is_empty() {
            time_ns = Some(
                rest.parse::<i64>()
                    .map_err(|_| (at, format!("expected a timestamp in nanoseconds, found `{rest}`")))?,
            );
        }
        c.i = l.len();
    }
    if c.i < l.len() {
        return Err((c.i, "unexpected text after the fields".into()));
    }
    Ok(Line { measurement, tags, fields, time_ns })
}

fn field_value(c: &mut Cursor<'_>) -> Result<FieldValue, String> {
    if c.peek() == Some(b'"') {
        c.i += 1;
        let mut out = Vec::new();
        loop {
            match c.peek() {
                None => return Err("unterminated string".into()),
                Some(b'\\') if matches!(c.s.get(c.i + 1), Some(b'"') | Some(b'\\')) => {
                    out.push(c.s[c.i + 1]);
                    c.i += 2;
                }
                Some(b'"') => {
                    c.i += 1;
                    return Ok(FieldValue::Text(String::from_utf8_lossy(&out).into_owned()));
                }
                Some(b) => {
                    out.push(b);
                    c.i += 1;
                }
            }
        }
    }
    let start = c.i;
    while let Some(b) = c.peek() {
        if b == b',' || b == b' ' {
            break;
        }
        c.i += 1;
    }
    let raw = std::str::from_utf8(&c.s[start..c.i]).map_err(|_| "not UTF-8".to_string())?;
    let v = match raw {
        "t" | "T" | "true" | "True" | "TRUE" => 1.0,
        "f" | "F" | "false" | "False" | "FALSE" => 0.0,
        _ => {
            let num = raw.strip_suffix(['i', 'u']).unwrap_or(raw);
            match num.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => return Err(format!("expected a number, a boolean or a quoted string, found `{raw}`")),
            }
        }
    };
    Ok(FieldValue::Number(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_telegraf_lines() {
        let (l, e) = parse(
            "# comment\nexec,component=c1,session=s\\ 1 function_start=1.5,n=3i,ok=t,msg=\"a \\\"b\\\"\" 1700000000000000000\nmasks masks_count=3,no_masks_count=1\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].measurement, "exec");
        assert_eq!(l[0].tags, vec![("component".into(), "c1".into()), ("session".into(), "s 1".into())]);
        assert_eq!(l[0].fields[0], ("function_start".into(), FieldValue::Number(1.5)));
        assert_eq!(l[0].fields[1].1, FieldValue::Number(3.0));
        assert_eq!(l[0].fields[2].1, FieldValue::Number(1.0));
        assert_eq!(l[0].fields[3].1, FieldValue::Text("a \"b\"".into()));
        assert_eq!(l[0].time_ns, Some(1_700_000_000_000_000_000));
        assert_eq!(l[1].time_ns, None);
    }

    #[test]
    fn bad_lines_are_reported_and_the_good_kept() {
        let (l, e) = parse("m\nm,t v=1\nm v=abc\nok v=1\nm v=1 12x\n");
        assert_eq!(l.len(), 1);
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].line, 1);
        assert!(e[1].message.contains("tag"), "{}", e[1]);
        assert!(e[2].message.contains("field `v`"), "{}", e[2]);
        assert!(e[3].message.contains("timestamp"), "{}", e[3]);
    }
}
