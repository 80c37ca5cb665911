//! One fuzz target per parser of outside input (see the crate's documentation).

use aisprint_ams::record::{self, Defaults};
use aisprint_ams::{line, setup};
use aisprint_model::app::{dag, deployments, physical, qos, resources};
use aisprint_model::config::{self, AgentConfig, ControllerConfig};
use aisprint_model::{oscar, yaml};
use proptest::prelude::*;
use prost::Message;

fn cases() -> u32 {
    std::env::var("AISPRINT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// Bytes an input may gain: the syntax of the formats (quotes, escapes, separators, YAML and
/// Python punctuation), control and multi-byte characters, and digits.
const INTERESTING: &[u8] =
    b"\"'\\,= \n\r\t{}[]:#-&*!|>%@`().;$0123456789eE+-iIunaTF\x00\x1b\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f";

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize, usize),
    Replace(usize, u8),
    Repeat(usize, usize, usize),
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let b = prop_oneof![proptest::sample::select(INTERESTING), any::<u8>()];
    prop_oneof![
        (any::<usize>(), b.clone()).prop_map(|(p, b)| Edit::Insert(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), b).prop_map(|(p, b)| Edit::Replace(p, b)),
        (any::<usize>(), 1usize..64, 1usize..50).prop_map(|(p, n, k)| Edit::Repeat(p, n, k)),
        any::<usize>().prop_map(Edit::Cut),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for e in edits {
        let at = |p: usize, v: &Vec<u8>| if v.is_empty() { 0 } else { p % (v.len() + 1) };
        match *e {
            Edit::Insert(p, b) => {
                let i = at(p, &v);
                v.insert(i, b);
            }
            Edit::Delete(p, n) => {
                let i = at(p, &v);
                let j = (i + n).min(v.len());
                v.drain(i..j);
            }
            Edit::Replace(p, b) => {
                if !v.is_empty() {
                    let i = p % v.len();
                    v[i] = b;
                }
            }
            Edit::Repeat(p, n, k) => {
                let i = at(p, &v);
                let j = (i + n).min(v.len());
                let piece = v[i..j].to_vec();
                for _ in 0..k {
                    v.splice(j..j, piece.iter().copied());
                }
            }
            Edit::Cut(p) => {
                let i = at(p, &v);
                v.truncate(i);
            }
        }
    }
    v
}

/// A seed of `seeds`, mutated.
fn input(seeds: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (0..seeds.len(), proptest::collection::vec(edit(), 0..12)).prop_map(move |(i, e)| apply(seeds[i].as_bytes(), &e))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const LINES: &[&str] = &[
    "execution_time,component_name=mask-detector,kubernetes_cluster_id=k,resource_id=r,session_id=u1 function_duration=1.5,function_start_time=100.5,job_duration=2,job_end_time=102,job_overhead=0.5,job_start_time=100\n",
    "masks,camera=door\\ 1,site=a masks_count=2i,no_masks_count=3u,label=\"a \\\"b\\\"\",ok=true 1700000000000000000\n# comment\ncpu usage_percent=12.5\n",
    "weird\\,name,t\\=k=v\\ x f=1e-3,g=-4.5E+2,h=F\n",
];

const JSON: &[&str] = &[
    r#"{"records": [{"type": "execution", "component_name": "c1", "session_id": "s1", "job_start_time": 10.0, "function_start_time": 10.5, "job_end_time": 12.0}, {"type": "metric", "name": "masks", "tags": {"camera": "door", "n": 3, "b": true}, "fields": {"masks_count": 3, "ok": true}, "time": 12.0, "component_name": "c2"}, {"type": "drift", "component_name": "c2", "metric": ["masks"], "field": "masks_count"}, {"type": "metric", "name": "v", "fields": 1.5, "time": 1}]}"#,
];

const AGENT_YAML: &[&str] = &[
    "node_id: rpi-1\nlayer: computationalLayer1\nresource: RaspPi\ncontroller:\n  address: https://127.0.0.1:7443\n  ca: certs/ca.pem\n  cert: certs/rpi-1.pem\n  key: certs/rpi-1.key\ncollection:\n  period_s: 1\n  families: [cpu, mem, system]\nbuffer:\n  path: buffers/rpi-1.redb\n  max_bytes: 65536\n  when_full: drop_oldest\nmqtt:\n  host: 127.0.0.1\n  port: 8883\n  tls: {ca: certs/ca.pem}\n  username: rpi-1\n  password_file: mqtt.pw\nmonitoring:\n  http: 127.0.0.1:8186\n  udp: 127.0.0.1:8094\n  qos_constraints: [qos.yaml]\nservices:\n  fdl: [fdl.yaml]\n  cluster: edge\n  buckets: buckets\n  s3:\n    minio.store: {endpoint: 'http://127.0.0.1:9000', access_key: a, secret_key: b, poll_s: 0.2}\n",
];

const CONTROLLER_YAML: &[&str] = &[
    "listen: 127.0.0.1:7443\nca: certs/ca.pem\ncert: certs/controller.pem\nkey: certs/controller.key\nadmin_cert: certs/admin.pem\nstate: state/controller.redb\nretention_hours: 1\nmqtt_broker:\n  listen: 0.0.0.0:8883\n  tls: true\n  users: users\nmonitoring:\n  http: 127.0.0.1:9464\n  qos_constraints: [q.yaml]\nruntime:\n  application_dir: app\n  agents: {RaspPi: rpi-1}\n  period_s: 2\n",
];

const FDL: &[&str] = &[
    "functions:\n  oscar:\n  - edge:\n      name: blur\n      script: blur.sh\n      memory: 1Gi\n      cpu: '0.9'\n      image: reg/blur:1\n      environment:\n        Variables:\n          LEVEL: '3'\n      input:\n      - storage_provider: minio.default\n        path: blur/input\n      output:\n      - storage_provider: minio.cloud\n        path: mask/input\n      max_parallelism: 4\n  - cloud:\n      name: mask\n      script: mask.sh\n      input:\n      - path: mask/input\n      output:\n      - path: mask/output\nstorage_providers:\n  minio:\n    cloud: {endpoint: 'https://x', access_key: a, secret_key: b}\n",
];

const MONITORING: &[&str] = &[
    "monitoring:\n  metrics:\n    cpu: {}\n  time_period: 1s\n  parameters:\n    performance_metrics_time_window_width: 3s\n    default_notification_endpoint: http://127.0.0.1:5000/ams-alert\n  alerts:\n    cpu_any:\n      condition:\n        metric: {name: cpu, field: usage_percent}\n        threshold: {type: range, value: [0, 100]}\n      every: 1s\n      notification_endpoint: {url: 'http://127.0.0.1:1/x'}\n",
];

const CUSTOM: &[&str] = &[
    "monitoring:\n  name: qos-test\n  metrics:\n    masks:\n      fields: [no_masks_count, masks_count]\n  alerts:\n    no_mask_detected:\n      condition:\n        metric:\n          name: masks\n          field: no_masks_count\n        threshold:\n          type: '>'\n          value: 1\n      every: 1s\n",
];

const DAG: &[&str] = &[
    include_str!("../../fixtures/guide/dag.yaml"),
    include_str!("../../fixtures/guide/application_dag_alternatives.yaml"),
];
const RESOURCES: &[&str] = &[
    include_str!("../../fixtures/guide/candidate_resources.yaml"),
    include_str!("../../fixtures/guide/candidate_resources_four_layers.yaml"),
];
const DEPLOYMENTS: &[&str] = &[include_str!("../../fixtures/guide/candidate_deployments.yaml")];
const QOS: &[&str] = &[include_str!("../../fixtures/guide/qos_constraints_ams.yaml")];
const PHYSICAL: &[&str] = &[include_str!("../../fixtures/guide/physical_nodes.yaml")];
const PYTHON: &[&str] = &[
    include_str!("../../fixtures/apps/four_layers/src/capture/main.py"),
    "from aisprint.annotations import component_name, exec_time, annotation\n\n@component_name(name='blurry-faces-onnx')\n@exec_time(local_time_thr=10, global_time_thr=30, prev_components=['a', \"b\"])\n@annotation({'partitionable_model': {'onnx_file': 'm.onnx'}, 'model_performance': {'metric_thr': 0.8}})\ndef main(args):\n    return args\n",
];
const NPY: &[u8] = include_bytes!(
    "../../fixtures/apps/filter_classifier/src/filter_fcn/classification_performance/confusion_matrix.npy"
);
const CLASS_NAMES: &[&str] = &[include_str!(
    "../../fixtures/apps/filter_classifier/src/filter_fcn/classification_performance/class_names_dictionary.csv"
)];
const PERFORMANCE: &[&str] = &[
    "System:\n  metric_name: average_f1\n  metric_thr: 0.5\n  sorted_deployments_performance:\n  - base:\n      components: [a, b]\n      dependencies: [[a, b, 0.6336]]\n      metric_value: 0.7247\n  - original_deployment:\n      components: [a2, b]\n      dependencies: [[a2, b, 0.6]]\n      metric_value: 0.6\n",
];
/// A small valid ONNX model (Conv, Relu, Gemm, with shapes and initializers), as bytes.
fn onnx_seed() -> Vec<u8> {
    use aisprint_onnx::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto};
    let info = |n: &str, dims: &[i64]| aisprint_onnx::tensor_info(n, 1, dims);
    let tensor = |n: &str, dims: &[i64]| TensorProto {
        name: Some(n.into()),
        dims: dims.to_vec(),
        data_type: Some(1),
        float_data: vec![0.5; dims.iter().product::<i64>() as usize],
        ..Default::default()
    };
    let node = |op: &str, i: &[&str], o: &str| NodeProto {
        op_type: Some(op.into()),
        name: Some(o.into()),
        input: i.iter().map(|s| s.to_string()).collect(),
        output: vec![o.into()],
        ..Default::default()
    };
    let g = GraphProto {
        node: vec![
            node("Conv", &["x", "w"], "c"),
            node("Relu", &["c"], "r"),
            node("Flatten", &["r"], "f"),
            node("Gemm", &["f", "fw"], "y"),
        ],
        input: vec![info("x", &[1, 1, 4, 4])],
        output: vec![info("y", &[1, 2])],
        value_info: vec![info("c", &[1, 2, 4, 4]), info("r", &[1, 2, 4, 4]), info("f", &[1, 32])],
        initializer: vec![tensor("w", &[2, 1, 3, 3]), tensor("fw", &[2, 32])],
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(17) }],
        graph: Some(g),
        ..Default::default()
    }
    .encode_to_vec()
}

const AUTH: &[&str] = &[
    "id = im; type = InfrastructureManager; username = u; password = p\nid = ost; type = OpenStack; host = https://x:5000; username = a; password = 'b;c'; tenant = t\n",
];
const COMMANDS: &[&str] = &[
    r#"{"cluster":"edge","fdl":"functions: {}\n","scripts":{"s/script.sh":"echo hi\n"}}"#,
    r#"{"bucket":"mask/input","name":"a.jpg","content":"aGVsbG8="}"#,
    r#"{"service":"blur"}"#,
    r#"{"bucket":"blur/in","timeout_s":1.5}"#,
];

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn line_protocol(b in input(LINES)) {
        let (lines, _) = line::parse(&text(&b));
        for l in lines {
            if let Ok(r) = record::from_line(l, 1, &Defaults::default()) {
                let _ = record::check_limits(&r);
            }
        }
    }

    #[test]
    fn json_records(b in input(JSON)) {
        let _ = record::from_json(&b, &Defaults { resource: "r".into(), cluster: "c".into() });
    }

    #[test]
    fn agent_yaml(b in input(AGENT_YAML)) {
        if let Ok((doc, _)) = yaml::parse::<AgentConfig>("agent.yaml", &text(&b)) {
            let _ = config::validate_agent(&doc);
        }
    }

    #[test]
    fn controller_yaml(b in input(CONTROLLER_YAML)) {
        if let Ok((doc, _)) = yaml::parse::<ControllerConfig>("controller.yaml", &text(&b)) {
            let _ = config::validate_controller(&doc);
        }
    }

    #[test]
    fn fdl(b in input(FDL)) {
        if let Ok((doc, _)) = yaml::parse::<oscar::Fdl>("fdl.yaml", &text(&b)) {
            let _ = oscar::validate(&doc);
            let _ = doc.value.edges();
        }
    }

    #[test]
    fn ams_setup_files(b in input(MONITORING), c in input(CUSTOM)) {
        let _ = setup::monitoring("monitoring_setup.yaml", &text(&b));
        let _ = setup::custom("custom_setup.yaml", &text(&c));
    }

    #[test]
    fn application_files(d in input(DAG), r in input(RESOURCES), p in input(DEPLOYMENTS), q in input(QOS), n in input(PHYSICAL)) {
        if let Ok((doc, _)) = yaml::parse::<dag::ApplicationDag>("application_dag.yaml", &text(&d)) {
            let _ = dag::validate(&doc);
        }
        let res = yaml::parse::<resources::CandidateResources>("candidate_resources.yaml", &text(&r)).ok();
        if let Some((doc, _)) = &res {
            let _ = resources::validate(doc);
        }
        if let Ok((doc, _)) = yaml::parse::<deployments::CandidateDeployments>("candidate_deployments.yaml", &text(&p)) {
            let _ = deployments::validate(&doc, res.as_ref().map(|(r, _)| &r.value));
        }
        if let Ok((doc, _)) = yaml::parse::<qos::QosConstraints>("qos_constraints.yaml", &text(&q)) {
            let _ = qos::validate(&doc);
        }
        let _ = yaml::parse::<physical::PhysicalNodes>("physical_nodes.yaml", &text(&n));
    }

    #[test]
    fn python_annotations(b in input(PYTHON)) {
        let _ = aisprint_controller::appdir::pysource::read_script("main.py", &text(&b));
    }

    #[test]
    fn classification_files(e in proptest::collection::vec(edit(), 0..12), c in input(CLASS_NAMES), p in input(PERFORMANCE)) {
        use aisprint_model::app::accuracy::{Confusion, DeploymentsPerformance, FilterRates};
        if let Ok(m) = aisprint_model::npy::read_matrix(&apply(NPY, &e)) {
            if let Ok(c) = Confusion::new("confusion_matrix.npy".into(), &text(&c), "class_names_dictionary.csv", m) {
                let _ = FilterRates::of(&c, "object");
            }
        }
        if let Ok((doc, _)) = yaml::parse::<DeploymentsPerformance>("deployments_performance.yaml", &text(&p)) {
            let _ = doc.value.ranks(&["base", "deployment1"]);
        }
    }

    #[test]
    fn onnx_models(e in proptest::collection::vec(edit(), 0..12)) {
        use aisprint_onnx::{graph::{node_flops, Graph}, split::{candidates, split}};
        if let Ok(m) = aisprint_onnx::read(&apply(&onnx_seed(), &e)) {
            if let Some(Ok(g)) = m.graph.as_ref().map(Graph::new) {
                for i in 0..g.proto.node.len() {
                    let _ = node_flops(&g, i);
                }
                for c in candidates(&g, 2) {
                    let _ = split(&m, &c);
                }
            }
        }
    }

    #[test]
    fn auth_dat(b in input(AUTH)) {
        let _ = aisprint_tosca::im::parse_auth(&text(&b));
    }

    #[test]
    fn command_payloads(kind in proptest::sample::select(&["services.apply", "bucket.put", "service.stop", "bucket.drain", "x"][..]), b in input(COMMANDS)) {
        let _ = aisprint_proto::commands::AgentCommand::parse(kind, &text(&b));
    }

    #[test]
    fn grpc_messages(b in proptest::collection::vec(any::<u8>(), 0..512), seed in input(LINES)) {
        use aisprint_proto::v1::{MetricBatch, Point, RegisterRequest, ShipRequest};
        let _ = MetricBatch::decode(b.as_slice());
        let _ = ShipRequest::decode(b.as_slice());
        let _ = RegisterRequest::decode(b.as_slice());
        // A valid batch, its bytes mutated.
        let valid = MetricBatch {
            node_id: "rpi-1".into(),
            seq: 3,
            points: vec![Point { measurement: text(&seed), tags: [("command".to_string(), "x".to_string())].into(), fields: [("ok".to_string(), 1.0)].into(), time_unix_ns: 1 }],
            ..Default::default()
        }
        .encode_to_vec();
        let edits: Vec<Edit> = b.chunks(3).map(|c| match c { [a, x, y] => Edit::Replace(usize::from(*a) * 7 + usize::from(*x), *y), _ => Edit::Cut(usize::MAX) }).collect();
        if let Ok(m) = MetricBatch::decode(apply(&valid, &edits).as_slice()) {
            for p in &m.points {
                let _ = aisprint_proto::commands::Reply::from_point(p);
            }
        }
    }
}
