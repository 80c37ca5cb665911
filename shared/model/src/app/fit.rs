//! What a resource must have to host a component: the trust its security asks for (SCONE runs
//! it under SGX, or on a machine with secure or measured boot), a GPU when it needs one, and
//! the RAM and GPU memory its device constraints name. SPACE4AI-D leaves the resources that
//! lack them out of the compatibility matrix (and says why); `toscarizer tosca` checks the
//! same rule, so it never refuses what SPACE4AI-D chose.

use super::annotations::ComponentAnnotations;
use super::num;
use super::resources::Resource;

/// What a component asks of the resource it runs on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// Trusted execution or a SCONE shield (`@security`, or the container's
    /// `trustedExecution`/`networkProtection`/`fileSystemProtection`).
    pub trusted: bool,
    /// A GPU (`GPURequirement`, or `@device_constraints(use_gpu_for=...)`).
    pub gpu: bool,
    /// `@device_constraints(ram=...)`, MB, against the resource's `memorySize`.
    pub ram: Option<f64>,
    /// `@device_constraints(vram=...)`, against the GPU accelerators' `memorySize` (same unit).
    pub vram: Option<f64>,
}

impl Needs {
    /// From the component's annotations and its container's flags.
    pub fn of(annotations: Option<&ComponentAnnotations>, container_trusted: bool, container_gpu: bool) -> Needs {
        let sec = annotations.and_then(|a| a.security.as_ref());
        let on = |f: Option<bool>| f.unwrap_or(false);
        let dev = annotations.and_then(|a| a.device_constraints.as_ref());
        Needs {
            trusted: container_trusted
                || sec.is_some_and(|s| on(s.trusted_execution) || on(s.network_shield) || on(s.filesystem_shield)),
            gpu: container_gpu || dev.and_then(|d| d.use_gpu_for.as_ref()).is_some_and(|u| !u.is_empty()),
            ram: dev.and_then(|d| d.ram.as_ref()).map(num),
            vram: dev.and_then(|d| d.vram.as_ref()).map(num),
        }
    }

    /// Why `resource` (named `name`) cannot host the component, or None when it can.
    pub fn unmet(&self, name: &str, resource: &Resource) -> Option<String> {
        let mut why = Vec::new();
        if self.trusted && !resource.is_trusted() {
            why.push(format!(
                "it asks for trusted execution or SCONE shields and `{name}` has neither SGX processors (SGXFlag) nor secureBoot/measuredBoot"
            ));
        }
        if (self.gpu || self.vram.is_some()) && resource.gpus() == 0.0 {
            why.push(format!("it needs a GPU and `{name}` has no GPU accelerator"));
        }
        if let Some(ram) = self.ram {
            match resource.memory_size {
                Some(m) if m >= ram => {}
                Some(m) => why.push(format!("@device_constraints asks for {ram} MB of RAM and `{name}` has {m}")),
                None => {
                    why.push(format!("@device_constraints asks for {ram} MB of RAM and `{name}` has no memorySize"))
                }
            }
        }
        if let (Some(vram), true) = (self.vram, resource.gpus() > 0.0) {
            let have = resource.gpu_memory();
            if have < vram {
                why.push(format!("@device_constraints asks for {vram} of GPU memory and `{name}`'s GPUs have {have}"));
            }
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(yaml: &str) -> Resource {
        serde_yaml::from_str(yaml).expect("resource")
    }

    #[test]
    fn each_need_is_checked_with_its_reason() {
        let plain = resource("{name: VM1, totalNodes: 1, memorySize: 4096}");
        let sgx = resource(
            "{name: SGX1, totalNodes: 1, memorySize: 8192, processors: {p1: {name: Xeon, architecture: amd64, computingUnits: 4, SGXFlag: True}}}",
        );
        let gpu = resource(
            "{name: G1, totalNodes: 1, memorySize: 16384, accelerators: {a1: {name: T4, memorySize: 16, processors: {g1: {name: T4, type: GPU, architecture: 'NVIDIA T4', computingUnits: 1}}}}}",
        );
        let trusted = Needs { trusted: true, ..Needs::default() };
        assert!(trusted.unmet("VM1", &plain).expect("unmet").contains("neither SGX processors"));
        assert_eq!(trusted.unmet("SGX1", &sgx), None);
        let g = Needs { gpu: true, ram: Some(8192.0), vram: Some(8.0), ..Needs::default() };
        let why = g.unmet("VM1", &plain).expect("unmet");
        assert!(why.contains("no GPU accelerator") && why.contains("8192 MB of RAM and `VM1` has 4096"), "{why}");
        assert_eq!(g.unmet("G1", &gpu), None);
        let big = Needs { vram: Some(32.0), ..Needs::default() };
        assert!(big.unmet("G1", &gpu).expect("unmet").contains("GPU memory and `G1`'s GPUs have 16"));
        assert_eq!(Needs::default().unmet("VM1", &plain), None);
    }
}
