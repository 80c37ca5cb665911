//! The FaaS model agrees with the pacsltk package (0.2.0) to 1e-9 relative on a grid of
//! arrival rates, warm and cold times and idle times (values written by
//! tools/pacsltk_reference.py from the package itself).

use aisprint_space4aid::pacsltk::serverless;

#[test]
fn agrees_with_the_reference_package() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pacsltk_reference.json");
    let data: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let rows = data["rows"].as_array().expect("rows");
    assert!(rows.len() > 200);
    let mut worst = (0.0f64, String::new());
    for r in rows {
        let f = |k: &str| r[k].as_f64().expect(k);
        let s =
            serverless(f("arrival_rate"), f("warm_service_time"), f("cold_service_time"), f("idle_time_before_kill"));
        for (name, got) in
            [("avg_resp_time", s.avg_resp_time), ("cold_prob", s.cold_prob), ("avg_server_count", s.avg_server_count)]
        {
            let want = f(name);
            let rel = if want == 0.0 { got.abs() } else { ((got - want) / want).abs() };
            if rel > worst.0 {
                worst = (rel, format!("{name} {r}: got {got}, want {want}"));
            }
        }
    }
    eprintln!("worst relative error {:e}", worst.0);
    assert!(worst.0 <= 1e-9, "worst relative error {:e}: {}", worst.0, worst.1);
}
