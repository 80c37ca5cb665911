//! Prometheus text exposition (format 0.0.4), built in memory: metric families with their
//! HELP and TYPE lines, samples grouped under them, names and label values made valid.

use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Gauge,
    Counter,
}

#[derive(Debug, Default)]
pub struct Exposition {
    /// name -> (help, type, lines)
    families: BTreeMap<String, (String, Type, Vec<String>)>,
}

/// A metric name from arbitrary text: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn name(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }).collect();
    if out.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn label_name(s: &str) -> String {
    name(s).replace(':', "_")
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sample of family `metric` (created with `help` and `kind` on first use).
    pub fn add<'a>(
        &mut self,
        metric: &str,
        help: &str,
        kind: Type,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        value: f64,
    ) {
        let metric = name(metric);
        let mut line = metric.clone();
        // Two keys that clean up to one name (`a.b`, `a_b`) would make the whole scrape
        // invalid: the second gets a suffix.
        let mut seen = std::collections::HashSet::new();
        let labels: Vec<String> = labels
            .into_iter()
            .map(|(k, v)| {
                let base = label_name(k);
                let mut n = base.clone();
                let mut i = 2;
                while !seen.insert(n.clone()) {
                    n = format!("{base}_{i}");
                    i += 1;
                }
                format!("{n}=\"{}\"", escape(v))
            })
            .collect();
        if !labels.is_empty() {
            let _ = write!(line, "{{{}}}", labels.join(","));
        }
        let _ = write!(line, " {}", number(value));
        self.families.entry(metric).or_insert_with(|| (help.to_string(), kind, Vec::new())).2.push(line);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (n, (help, kind, lines)) in &self.families {
            let t = match kind {
                Type::Gauge => "gauge",
                Type::Counter => "counter",
            };
            let _ = writeln!(out, "# HELP {n} {}", help.replace('\n', " "));
            let _ = writeln!(out, "# TYPE {n} {t}");
            for l in lines {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_names_and_escapes() {
        let mut e = Exposition::new();
        e.add("aisprint_custom_masks-count", "a metric", Type::Gauge, [("node", "n\"1"), ("x.y", "a\nb")], 3.0);
        e.add("aisprint_custom_masks-count", "a metric", Type::Gauge, [("node", "n2")], 1.5);
        e.add("9lives", "c", Type::Counter, [], f64::NAN);
        e.add("dup", "d", Type::Gauge, [("a.b", "1"), ("a_b", "2"), ("a:b", "3")], 1.0);
        let t = e.render();
        assert_eq!(
            t,
            "# HELP _9lives c\n# TYPE _9lives counter\n_9lives NaN\n# HELP aisprint_custom_masks_count a metric\n# TYPE aisprint_custom_masks_count gauge\naisprint_custom_masks_count{node=\"n\\\"1\",x_y=\"a\\nb\"} 3\naisprint_custom_masks_count{node=\"n2\"} 1.5\n# HELP dup d\n# TYPE dup gauge\ndup{a_b=\"1\",a_b_2=\"2\",a_b_3=\"3\"} 1\n"
        );
    }
}
