//! `aisprint toscarizer tosca|fdl|deploy|outputs|delete|docker` (also `toscarizer ...`).

use std::time::Duration;

use crate::cli::{ImArgs, ToscarizerCommand};
use crate::error::{CmdError, Outcome};
use crate::provision::{self as tz, DockerOutcome, ImOptions};

fn im_options(im: ImArgs, timeout: u64, allow_unconfigured: bool) -> ImOptions {
    ImOptions {
        im_url: im.im_url,
        im_auth: im.im_auth,
        timeout: Duration::from_secs(timeout),
        allow_unconfigured,
        poll: Duration::from_secs(2),
    }
}

/// Done, or failed with the reasons already printed.
fn done(ok: bool) -> Result<Outcome, CmdError> {
    if ok {
        Ok(Outcome::Done)
    } else {
        Err(CmdError::Reported)
    }
}

pub(super) fn run(cmd: ToscarizerCommand) -> Result<Outcome, CmdError> {
    match cmd {
        ToscarizerCommand::Tosca {
            application_dir,
            which,
            domain,
            elastic,
            im_auth,
            artifacts_url,
            influxdb_url,
            influxdb_token,
        } => {
            if influxdb_url.is_some() || influxdb_token.is_some() {
                eprintln!("warning: --influxdb_url/--influxdb_token are ignored: monitoring is the agent mesh's (docs/monitoring.md)");
            }
            let o = tz::ToscaOptions { domain, elastic, artifacts_url, im_auth };
            tz::tosca(&application_dir, which.which(), &o)?;
            Ok(Outcome::Done)
        }
        ToscarizerCommand::Fdl { application_dir, which } => {
            tz::fdl(&application_dir, which.which())?;
            Ok(Outcome::Done)
        }
        ToscarizerCommand::Deploy { application_dir, which, im, timeout, allow_unconfigured } => {
            let o = im_options(im, timeout, allow_unconfigured);
            done(super::block_on(async { Ok(tz::deploy(&application_dir, which.which(), &o).await?) })?)
        }
        ToscarizerCommand::Outputs { application_dir, which, im } => {
            let o = im_options(im, 60, false);
            let (v, ok) = super::block_on(async { Ok(tz::outputs(&application_dir, which.which(), &o).await?) })?;
            print!("{}", serde_yaml::to_string(&v).unwrap_or_default());
            done(ok)
        }
        ToscarizerCommand::Delete { application_dir, which, im, timeout } => {
            let o = im_options(im, timeout, false);
            done(super::block_on(async { Ok(tz::delete(&application_dir, which.which(), &o).await?) })?)
        }
        ToscarizerCommand::Docker { application_dir, registry, registry_folder, base_image, dry_run } => {
            let o = tz::DockerOptions { registry, registry_folder, base_image, dry_run };
            match tz::docker(&application_dir, &o)? {
                DockerOutcome::Built | DockerOutcome::DryRun => Ok(Outcome::Done),
                DockerOutcome::NoEngine => Ok(Outcome::NoEngine),
            }
        }
    }
}
