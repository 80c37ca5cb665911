//! The documents that build a Kubernetes + OSCAR + MinIO cluster (front node, worker nodes,
//! the component's service): on new virtual machines or on machines reached over SSH.

use serde_yaml::Value;

use aisprint_model::app::physical::{PhysicalResource, SshNode};
use aisprint_model::app::resources::{LayerType, Resource};

use crate::site::{Site, SiteKind};
use crate::values::{attr, dns, head, input, map, num, render, s, size, typed_input, url};
use crate::{instance_type, Options, Placement};

/// The storage size of a resource in GB (`450`, `"450"` or `"450 GB"`).
fn storage_gb(r: &Resource) -> Option<f64> {
    let v = r.storage_size.as_ref()?;
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(t) => {
            let t = t.trim();
            let t = t.strip_suffix("GB").unwrap_or(t).trim();
            t.parse().ok()
        }
        _ => None,
    }
}

/// GPUs of a resource: count, vendor and model (from an accelerator's `architecture`,
/// `"VENDOR MODEL"`).
fn gpus(r: &Resource) -> Option<(f64, String, String)> {
    let mut count = 0.0;
    let mut vendor = String::new();
    let mut model = String::new();
    for a in r.accelerators.iter().flat_map(|m| m.values()) {
        for p in a.processors.iter().flat_map(|m| m.values()) {
            if p.processor_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("GPU")) {
                count += p.computing_units.unwrap_or(1.0);
                if let Some((v, m)) = p.architecture.as_deref().and_then(|a| a.split_once(' ')) {
                    vendor = v.to_string();
                    model = m.to_string();
                }
            }
        }
    }
    (count > 0.0).then_some((count, vendor, model))
}

/// The `host` capability of the worker nodes.
fn wn_host(r: &Resource) -> Value {
    let mut host = vec![
        ("num_cpus", num(r.cores().unwrap_or(1.0).ceil())),
        ("mem_size", size(r.memory_size.unwrap_or(1024.0), "MB")),
    ];
    if let Some(gb) = storage_gb(r) {
        host.push(("disk_size", size(gb, "GB")));
    }
    host.push(("sgx", Value::Bool(r.has_sgx())));
    host.push(("preemtible_instance", Value::Bool(r.on_spot.as_ref().is_some_and(aisprint_model::app::Flag::is_true))));
    if let Some((n, vendor, model)) = gpus(r) {
        host.push(("num_gpus", num(n)));
        if !vendor.is_empty() {
            host.push(("gpu_vendor", s(&vendor)));
            host.push(("gpu_model", s(&model)));
        }
    }
    if let Some(t) = instance_type(r) {
        host.push(("instance_type", s(&t)));
    }
    let aws = r.os_image_id.as_deref().is_some_and(|i| i.starts_with("aws"));
    if aws && r.storage_type.as_deref() == Some("SSD") {
        host.push(("disk_type", s("gp3")));
    }
    map(host)
}

/// The text of a YAML string or number.
fn yaml_text(v: &Option<Value>) -> Option<String> {
    match v.as_ref()? {
        Value::String(t) => Some(t.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `os` capability of the worker nodes.
fn wn_os(r: &Resource) -> Vec<(&'static str, Value)> {
    let mut os = Vec::new();
    if let Some(d) = yaml_text(&r.os_distribution) {
        os.push(("distribution", s(&d)));
    }
    os.push(("type", s("linux")));
    if let Some(v) = yaml_text(&r.os_version) {
        os.push(("version", s(&v)));
    }
    if let Some(i) = &r.os_image_id {
        os.push(("image", s(i)));
    }
    os
}

/// The credential IM logs in with over SSH.
fn ssh_credential(n: &SshNode) -> Value {
    map(vec![
        ("user", s(n.ssh_user.as_deref().unwrap_or("root"))),
        ("token_type", s("private_key")),
        ("token", s(n.ssh_key.as_ref().map(|k| k.expose()).unwrap_or(""))),
    ])
}

/// A network port of a node: its order, address, the node and the network.
fn port(order: u64, ip: &str, binding: &str, link: &str) -> Value {
    map(vec![
        ("type", s("tosca.nodes.network.Port")),
        ("properties", map(vec![("order", Value::Number(order.into())), ("ip_address", s(ip))])),
        ("requirements", Value::Sequence(vec![map(vec![("binding", s(binding))]), map(vec![("link", s(link))])])),
    ])
}

/// A Kubernetes + OSCAR + MinIO cluster with the component's service: on new virtual
/// machines (`Virtual`) or on the machines of `physical_nodes.yaml` (`PhysicalToBeProvisioned`).
pub(crate) fn cluster_doc(
    p: &Placement<'_>,
    site: &Site,
    service: (String, Value),
    opts: &Options,
    ph: Option<&PhysicalResource>,
) -> String {
    let SiteKind::Built { minio_password, admin_token, oscar_password } = &site.kind else {
        return String::new();
    };
    let physical = p.layer_type == LayerType::PhysicalToBeProvisioned;
    let c = Cluster {
        r: p.resource,
        key: &p.resource_key,
        physical,
        elastic: opts.elastic > 0 && !physical,
        nodes_n: p.resource.total_nodes.unwrap_or(1).max(1),
        ph,
    };
    let what = if physical { "existing machines reached over SSH" } else { "virtual machines" };
    let doc = head(
        &format!(
            "OSCAR cluster (Kubernetes, OSCAR, MinIO) on {what} of resource {} for component {}",
            c.r.name, p.component
        ),
        &p.component,
        &opts.artifacts_url,
    );
    let inputs = c.inputs(
        [("admin_token", admin_token), ("oscar_password", oscar_password), ("minio_password", minio_password)],
        &site.cluster,
        opts,
    );
    let mut nodes: Vec<(String, Value)> =
        vec![("oscar".into(), oscar_node()), ("lrms_front_end".into(), lrms_front_end_node())];
    nodes.push(("front".into(), c.front_node()));
    if !physical {
        nodes.push((
            "my_block_storage".into(),
            map(vec![
                ("type", s("tosca.nodes.BlockStorage")),
                ("properties", map(vec![("size", input("storage_size"))])),
            ]),
        ));
    }
    if physical {
        c.physical_workers(&mut nodes);
    } else {
        c.virtual_workers(&mut nodes, opts);
    }
    let (svc_name, svc) = service;
    nodes.push((svc_name.clone(), svc));
    render(doc, inputs, nodes, outputs(&svc_name))
}

/// What shapes a cluster's document: its resource, where its machines come from and whether
/// it grows and shrinks on demand.
struct Cluster<'a> {
    r: &'a Resource,
    /// The resource's key in its layer, in the worker nodes' names.
    key: &'a str,
    /// On existing machines reached over SSH (else on new virtual machines).
    physical: bool,
    /// Worker nodes powered on and off on demand.
    elastic: bool,
    /// The worker nodes (`totalNodes`, at least 1).
    nodes_n: u32,
    ph: Option<&'a PhysicalResource>,
}

impl Cluster<'_> {
    /// The document's inputs: the front node's size, the cluster's secrets (input name and
    /// value), name and domain.
    fn inputs(&self, secrets: [(&'static str, &str); 3], cluster: &str, opts: &Options) -> Vec<(&'static str, Value)> {
        let r = self.r;
        let mut inputs = vec![
            ("fe_cpus", typed_input("integer", num(r.cores().unwrap_or(4.0).ceil()))),
            ("fe_mem", typed_input("scalar-unit.size", size(r.memory_size.unwrap_or(4096.0), "MB"))),
            ("fe_disk", typed_input("scalar-unit.size", s("40 GB"))),
        ];
        if !self.physical {
            inputs.push(("storage_size", typed_input("scalar-unit.size", s("100 GB"))));
            inputs.push(("fe_os_image", typed_input("string", s(r.os_image_id.as_deref().unwrap_or("")))));
        }
        inputs.extend(secrets.map(|(name, value)| (name, typed_input("string", s(value)))));
        inputs.extend([
            ("cert_user_email", typed_input("string", s("jhondoe@server.com"))),
            ("cluster_name", typed_input("string", s(cluster))),
            ("domain_name", typed_input("string", s(&opts.domain))),
        ]);
        if self.elastic {
            inputs.push(("max_wn_num", typed_input("integer", num(f64::from(opts.elastic)))));
        }
        inputs
    }

    /// The front node: the control plane's machine, its names and (on virtual machines) its
    /// block storage.
    fn front_node(&self) -> Value {
        let (r, physical) = (self.r, self.physical);
        let mut endpoint = vec![("dns_name", s("kubeserver"))];
        if !physical {
            endpoint.push(("network_name", s("PUBLIC")));
        }
        endpoint.push((
            "additional_dns_names",
            Value::Sequence(vec![dns("", "@"), dns("minio.", "@"), dns("console.minio.", "@")]),
        ));
        let mut fe_host =
            vec![("num_cpus", input("fe_cpus")), ("mem_size", input("fe_mem")), ("disk_size", input("fe_disk"))];
        // The front node runs the control plane: the workers' instance type, unless that is a
        // GPU type (then IM picks one by cores and memory).
        if let Some(t) = instance_type(r).filter(|_| !physical && gpus(r).is_none()) {
            fe_host.push(("instance_type", s(&t)));
        }
        let mut fe_os = vec![("type", s("linux"))];
        if physical {
            if let Some(fe) = self.ph.and_then(|x| x.fe_node.as_ref()) {
                fe_os.push(("credential", ssh_credential(fe)));
            }
        } else {
            fe_os.push(("image", input("fe_os_image")));
        }
        let mut front = vec![
            ("type", s("tosca.nodes.indigo.Compute")),
            (
                "capabilities",
                map(vec![
                    ("endpoint", map(vec![("properties", map(endpoint))])),
                    ("host", map(vec![("properties", map(fe_host))])),
                    ("os", map(vec![("properties", map(fe_os))])),
                ]),
            ),
        ];
        if !physical {
            front.push((
                "requirements",
                Value::Sequence(vec![map(vec![(
                    "local_storage",
                    map(vec![
                        ("node", s("my_block_storage")),
                        ("capability", s("tosca.capabilities.Attachment")),
                        (
                            "relationship",
                            map(vec![
                                ("type", s("tosca.relationships.AttachesTo")),
                                ("properties", map(vec![("location", s("/pv")), ("device", s("hdb"))])),
                            ]),
                        ),
                    ]),
                )])]),
            ));
        }
        map(front)
    }

    /// The Kubernetes software of a worker node hosted on `host`.
    fn wn_software(&self, host: &str) -> Value {
        let mut n = vec![
            ("type", s("tosca.nodes.indigo.LRMS.WorkerNode.Kubernetes")),
            (
                "properties",
                map(vec![("front_end_ip", attr(&["front", "private_address", "0"])), ("version", s("1.23.6"))]),
            ),
        ];
        if self.elastic {
            n.push((
                "capabilities",
                map(vec![(
                    "wn",
                    map(vec![(
                        "properties",
                        map(vec![("max_instances", input("max_wn_num")), ("min_instances", Value::Number(0.into()))]),
                    )]),
                )]),
            ));
        }
        n.push(("requirements", Value::Sequence(vec![map(vec![("host", s(host))])])));
        map(n)
    }

    /// The networks, the front node's ports and one worker node (machine, software, port)
    /// per machine of `wns`, up to `totalNodes`.
    fn physical_workers(&self, nodes: &mut Vec<(String, Value)>) {
        let (r, key, ph) = (self.r, self.key, self.ph);
        let fe = ph.and_then(|x| x.fe_node.as_ref());
        nodes.push((
            "pub_network".into(),
            map(vec![
                ("type", s("tosca.nodes.network.Network")),
                ("properties", map(vec![("network_type", s("public"))])),
            ]),
        ));
        nodes.push((
            "priv_network".into(),
            map(vec![
                ("type", s("tosca.nodes.network.Network")),
                ("properties", map(vec![("network_type", s("private"))])),
            ]),
        ));
        if let Some(ip) = fe.and_then(|f| f.public_ip.as_deref()) {
            nodes.push(("front_pub_network_port".into(), port(1, ip, "front", "pub_network")));
        }
        if let Some(ip) = fe.and_then(|f| f.private_ip.as_deref()) {
            nodes.push(("front_priv_network_port".into(), port(0, ip, "front", "priv_network")));
        }
        let wns = ph.and_then(|x| x.wns.as_ref()).map(Vec::as_slice).unwrap_or(&[]);
        for (i, wn) in wns.iter().take(self.nodes_n as usize).enumerate() {
            let name = format!("wn_{key}_{}", i + 1);
            let mut os = wn_os(r).into_iter().filter(|(k, _)| *k != "image").collect::<Vec<_>>();
            os.push(("credential", ssh_credential(wn)));
            nodes.push((
                name.clone(),
                map(vec![
                    ("type", s("tosca.nodes.indigo.Compute")),
                    (
                        "capabilities",
                        map(vec![
                            ("scalable", map(vec![("properties", map(vec![("count", Value::Number(1.into()))]))])),
                            ("host", map(vec![("properties", wn_host(r))])),
                            ("os", map(vec![("properties", map(os))])),
                        ]),
                    ),
                ]),
            ));
            nodes.push((format!("wn_node_{key}_{}", i + 1), self.wn_software(&name)));
            if let Some(ip) = wn.private_ip.as_deref().or(wn.public_ip.as_deref()) {
                nodes.push((format!("{name}_priv_network_port"), port(0, ip, &name, "priv_network")));
            }
        }
    }

    /// The worker nodes on virtual machines (`totalNodes` of them), and the elastic cluster's
    /// power manager when it grows and shrinks on demand.
    fn virtual_workers(&self, nodes: &mut Vec<(String, Value)>, opts: &Options) {
        let (r, key) = (self.r, self.key);
        let name = format!("wn_{key}");
        let mut caps = vec![
            ("scalable", map(vec![("properties", map(vec![("count", num(f64::from(self.nodes_n)))]))])),
            ("host", map(vec![("properties", wn_host(r))])),
            ("os", map(vec![("properties", map(wn_os(r)))])),
        ];
        if self.elastic {
            caps.push(("endpoint", map(vec![("properties", map(vec![("dns_name", s("vnode-#N#.localdomain"))]))])));
        }
        nodes.push((name.clone(), map(vec![("type", s("tosca.nodes.indigo.Compute")), ("capabilities", map(caps))])));
        nodes.push((format!("wn_node_{key}"), self.wn_software(&name)));
        if self.elastic {
            nodes.push(("elastic_cluster_front_end".into(), elastic_front_end(opts, key)));
        }
    }
}

/// The OSCAR node: its passwords, DNS names and ports, on the Kubernetes front end.
fn oscar_node() -> Value {
    let tcp = |port: u64| map(vec![("protocol", s("tcp")), ("source", Value::Number(port.into()))]);
    map(vec![
        ("type", s("tosca.nodes.indigo.OSCAR")),
        (
            "properties",
            map(vec![
                ("minio_secretkey", input("minio_password")),
                ("password", input("oscar_password")),
                ("dns_host", dns("", ".")),
                ("minio_dns_host", dns("minio.", ".")),
                ("minio_dns_host_console", dns("console.minio.", ".")),
            ]),
        ),
        (
            "capabilities",
            map(vec![(
                "endpoint",
                map(vec![(
                    "properties",
                    map(vec![(
                        "ports",
                        map(vec![("http_port", tcp(80)), ("https_port", tcp(443)), ("minio_port", tcp(30300))]),
                    )]),
                )]),
            )]),
        ),
        ("requirements", Value::Sequence(vec![map(vec![("host", s("lrms_front_end"))])])),
    ])
}

/// The Kubernetes front end, on the front node.
fn lrms_front_end_node() -> Value {
    map(vec![
        ("type", s("tosca.nodes.indigo.LRMS.FrontEnd.Kubernetes")),
        (
            "capabilities",
            map(vec![(
                "endpoint",
                map(vec![("properties", map(vec![("port", Value::Number(30443.into())), ("protocol", s("tcp"))]))]),
            )]),
        ),
        (
            "properties",
            map(vec![
                ("admin_username", s("kubeuser")),
                ("admin_token", input("admin_token")),
                ("install_kubeapps", Value::Bool(false)),
                ("install_metrics", Value::Bool(true)),
                ("install_nfs_client", Value::Bool(true)),
                ("install_ingress", Value::Bool(true)),
                ("version", s("1.23.6")),
                ("cert_manager", Value::Bool(true)),
                ("cert_user_email", input("cert_user_email")),
                ("public_dns_name", dns("", ".")),
            ]),
        ),
        ("requirements", Value::Sequence(vec![map(vec![("host", s("front"))])])),
    ])
}

/// The power manager of an elastic cluster (CLUES over IM), for the worker nodes of `key`.
fn elastic_front_end(opts: &Options, key: &str) -> Value {
    let opt = |sec: &str, o: &str, v: &str| map(vec![("section", s(sec)), ("option", s(o)), ("value", s(v))]);
    map(vec![
        ("type", s("tosca.nodes.ec3.ElasticCluster")),
        (
            "properties",
            map(vec![
                ("im_auth", s(opts.im_auth.as_deref().unwrap_or(""))),
                ("powermanager_plugin", s("im")),
                ("kube_token", input("admin_token")),
                (
                    "config_options",
                    Value::Sequence(vec![
                        opt("scheduling", "IDLE_TIME", "300"),
                        opt("scheduling", "RECONSIDER_JOB_TIME", "60"),
                        opt("monitoring", "MAX_WAIT_POWERON", "3000"),
                        opt("monitoring", "MAX_WAIT_POWEROFF", "600"),
                        opt("monitoring", "PERIOD_LIFECYCLE", "20"),
                        opt("monitoring", "PERIOD_MONITORING_NODES", "20"),
                        opt("client", "CLUES_REQUEST_WAIT_TIMEOUT", "3000"),
                    ]),
                ),
            ]),
        ),
        (
            "requirements",
            Value::Sequence(vec![
                map(vec![("lrms", s("lrms_front_end"))]),
                map(vec![("wn", s(&format!("wn_node_{key}")))]),
            ]),
        ),
    ])
}

/// The outputs of a cluster document: its endpoints, secrets, front node address and the
/// service `svc_name`'s endpoint and credential.
fn outputs(svc_name: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("dashboard_endpoint", url("", "/dashboard/")),
        ("oscarui_endpoint", url("", "/")),
        ("minio_endpoint", url("minio.", "/")),
        ("console_minio_endpoint", url("console.minio.", "/")),
        ("admin_token", input("admin_token")),
        ("oscar_password", input("oscar_password")),
        ("minio_password", input("minio_password")),
        ("fe_node_ip", attr(&["front", "public_address", "0"])),
        ("oscar_service_url", attr(&[svc_name, "endpoint"])),
        ("oscar_service_cred", attr(&[svc_name, "credential"])),
    ]
}
