//! Inputs the fuzz targets found, kept as plain tests once fixed (docs/security.md).

use aisprint_ams::line;
use aisprint_ams::record::{self, Defaults};

/// Not a crash: the review's H1 body, which the limits now refuse record by record.
#[test]
fn the_reviews_wide_record_is_refused_with_its_limit() {
    let fields: Vec<String> = (0..10_000).map(|i| format!("f{i}=1")).collect();
    let text = format!("m,t={} {}\n", "x".repeat(30_000), fields.join(","));
    let (lines, errors) = line::parse(&text);
    assert!(errors.is_empty(), "{errors:?}");
    let e = record::from_line(lines.into_iter().next().expect("a line"), 1, &Defaults::default()).expect_err("refused");
    assert!(e.contains("the limit is"), "{e}");
}
