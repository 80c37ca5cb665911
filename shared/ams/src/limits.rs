//! What one record from outside may hold, checked at ingestion before anything stores or
//! evaluates it (`docs/security.md` has the table). A record over a limit is refused with the
//! limit it broke; the others of its request are kept.

/// Tags per record.
pub const MAX_TAGS: usize = 32;
/// Fields per record.
pub const MAX_FIELDS: usize = 256;
/// Bytes of a name: measurement, tag key, field key.
pub const MAX_KEY_BYTES: usize = 128;
/// Bytes of a value: tag value, component name, session id, cluster, resource.
pub const MAX_VALUE_BYTES: usize = 1024;
/// Records per request (one HTTP body, one datagram, one read of a TCP connection).
pub const MAX_RECORDS: usize = 10_000;

/// Measurement names the mesh writes itself: command answers, job reports, the checks, the
/// throughput and the notifications. A local client must not forge them.
pub const RESERVED: [&str; 5] = ["command_result", "oscar_job", "constraint_check", "throughput", "ams_notification"];

/// A name within [`MAX_KEY_BYTES`]; `what` names it in the refusal.
pub fn key(what: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_KEY_BYTES {
        return Err(format!("{what} is {} bytes long; the limit is {MAX_KEY_BYTES}", s.len()));
    }
    Ok(())
}

/// A value within [`MAX_VALUE_BYTES`].
pub fn value(what: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_VALUE_BYTES {
        return Err(format!("{what} is {} bytes long; the limit is {MAX_VALUE_BYTES}", s.len()));
    }
    Ok(())
}

/// A key as it is quoted in a refusal: its first 40 characters.
pub fn short(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// A measurement name the mesh keeps for itself.
pub fn reserved(name: &str) -> Result<(), String> {
    if RESERVED.contains(&name) {
        return Err(format!("measurement `{name}` is reserved for the mesh's own points ({})", RESERVED.join(", ")));
    }
    Ok(())
}

/// The refusal of the records after the first [`MAX_RECORDS`] of a request.
pub fn too_many(index: usize) -> Option<String> {
    (index >= MAX_RECORDS).then(|| format!("over {MAX_RECORDS} records in one request; send the rest in another"))
}
