//! Files in auth.dat's format (IM's credentials file): the Infrastructure Manager's and the
//! clouds' lines, and the OSCAR clusters'.

use std::path::{Path, PathBuf};

use aisprint_tosca::im::{parse_auth, AuthFile};

/// Why an auth.dat could not be used; never with a value from it.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{}: cannot read the IM credentials: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Reads a file in auth.dat's format, warning when others may read it.
pub fn read(path: &Path) -> Result<AuthFile, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read { path: path.to_path_buf(), source })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                let shown = path.display();
                eprintln!(
                    "warning: {shown} can be read by other users (mode {:o}); it holds credentials: chmod 600 {shown}",
                    m.permissions().mode() & 0o777
                );
            }
        }
    }
    parse_auth(&text).map_err(|e| AuthError::Invalid { path: path.to_path_buf(), message: e.to_string() })
}
