//! The campaign's inputs: the input file (read once, sent in base64 inside commands), and a
//! run's batches uploaded on schedule, `inter_upload_time` seconds apart (deterministic or
//! exponential).

use std::path::{Path, PathBuf};
use std::time::Duration;

use aisprint_model::app::oscarp::CampaignSettings;
use aisprint_proto::commands::{AgentCommand, Put};
use aisprint_space4aid::search::Rng;

use super::CampaignError;
use crate::mesh::admin::{self, AdminClient};

/// The most a file sent over the mesh may hold: commands are gRPC messages of at most 4 MiB,
/// and files travel in base64 (4/3 of their size).
pub(super) use crate::packaging::MAX_SENT;

/// How a run's inputs are uploaded.
#[derive(Debug, Clone)]
pub(super) struct Uploads {
    pub batch_size: u32,
    pub batches: u32,
    /// Seconds between batches (the mean, when exponential).
    pub gap: f64,
    pub exponential: bool,
    /// The input file, base64.
    pub encoded: String,
    /// The input file's extension, with its dot (or empty).
    pub ext: String,
}

/// Exponential variate of mean `mean` from a uniform `u` in (0, 1].
fn exponential(mean: f64, u: f64) -> f64 {
    -mean * u.max(1e-12).ln()
}

impl Uploads {
    /// Finds and reads the input file: `<storage_bucket or input>/<filename>`, else
    /// `input/<filename>`; its path and the uploads.
    pub fn read(app_dir: &Path, s: &CampaignSettings) -> Result<(PathBuf, Uploads), CampaignError> {
        use base64::Engine;
        let candidates = [
            app_dir.join(s.input_bucket.as_deref().unwrap_or("input")).join(&s.input_file),
            app_dir.join("input").join(&s.input_file),
        ];
        let path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
            CampaignError::Failed(format!(
                "input_files.filename: `{}` is neither {} nor {}",
                s.input_file,
                candidates[0].display(),
                candidates[1].display()
            ))
        })?;
        let content = std::fs::read(path).map_err(|source| CampaignError::Io { path: path.clone(), source })?;
        if content.len() > MAX_SENT {
            return Err(CampaignError::Failed(format!(
                "{}: over {} MiB; uploads go over the mesh's command channel (gRPC messages of 4 MiB, base64 inside)",
                path.display(),
                MAX_SENT >> 20
            )));
        }
        let uploads = Uploads {
            batch_size: s.batch_size,
            batches: s.batches,
            gap: s.inter_upload_s,
            exponential: s.exponential,
            encoded: base64::engine::general_purpose::STANDARD.encode(&content),
            ext: path.extension().and_then(|e| e.to_str()).map(|e| format!(".{e}")).unwrap_or_default(),
        };
        Ok((path.clone(), uploads))
    }

    /// Waits the inter-upload time before batch `b` (none before the first).
    pub async fn before_batch(&self, b: u32, rng: &mut Rng) {
        if b > 0 {
            let wait = if self.exponential { exponential(self.gap, 1.0 - rng.unit()) } else { self.gap };
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    /// Uploads a run's batches on schedule into `bucket` of `node`, as `<prefix>NNN<ext>`.
    pub async fn run(
        &self,
        admin: &mut AdminClient,
        node: &str,
        bucket: &str,
        prefix: &str,
        rng: &mut Rng,
    ) -> Result<(), CampaignError> {
        for b in 0..self.batches {
            self.before_batch(b, rng).await;
            for f in 0..self.batch_size {
                let name = format!("{prefix}{:03}{}", b * self.batch_size + f, self.ext);
                put(admin, node, bucket, &name, &self.encoded).await?;
            }
        }
        Ok(())
    }
}

/// Puts a copy of the input (base64) into a bucket of an agent.
pub(super) async fn put(
    admin: &mut AdminClient,
    node: &str,
    bucket: &str,
    name: &str,
    content: &str,
) -> Result<(), CampaignError> {
    let put = AgentCommand::BucketPut(Put { bucket: bucket.into(), name: name.into(), content: content.into() });
    send(admin, node, &put).await.map(|_| ())
}

/// Sends a command to an agent; its id, or an error when the agent is not connected.
pub(super) async fn send(admin: &mut AdminClient, node: &str, cmd: &AgentCommand) -> Result<String, CampaignError> {
    admin::send(admin, node, cmd).await?.ok_or_else(|| {
        CampaignError::Failed(format!("{}: the agent `{node}` is not connected to the controller", cmd.kind()))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn exponential_gaps_have_the_mean_asked() {
        let mut rng = aisprint_space4aid::search::Rng::new(7);
        let n = 20_000;
        let mean = (0..n).map(|_| super::exponential(0.5, 1.0 - rng.unit())).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
