//! NumPy's `.npy` format, read (version 1 to 3, little-endian numbers of one to eight bytes,
//! C or Fortran order): the confusion matrices of `@model_performance` are saved with
//! `numpy.save`. Only two-dimensional arrays are taken; every value comes out as `f64`.
//!
//! The format (numpy.lib.format): the bytes `\x93NUMPY`, a major and a minor version, the
//! header's length (2 bytes in version 1, 4 after), the header (a Python dict literal with
//! `descr`, `fortran_order` and `shape`), then the values.

/// At most this many values (a confusion matrix of 4,096 classes squared).
pub const MAX_VALUES: usize = 1 << 24;

/// A matrix read from a `.npy` file: `rows[i][j]`.
pub type Matrix = Vec<Vec<f64>>;

/// Reads a two-dimensional array; the error says what is wrong with the bytes.
pub fn read_matrix(bytes: &[u8]) -> Result<Matrix, String> {
    let rest = bytes.strip_prefix(b"\x93NUMPY").ok_or("not a NumPy .npy file (it does not start with \\x93NUMPY)")?;
    let (&major, rest) = rest.split_first().ok_or("cut short after the magic bytes")?;
    let (_minor, rest) = rest.split_first().ok_or("cut short after the magic bytes")?;
    let (len, rest) = match major {
        1 => {
            let (l, r) = split(rest, 2)?;
            (usize::from(u16::from_le_bytes([l[0], l[1]])), r)
        }
        2 | 3 => {
            let (l, r) = split(rest, 4)?;
            (u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize, r)
        }
        v => return Err(format!("format version {v} is not known (1 to 3 are)")),
    };
    let (header, data) = split(rest, len)?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text")?;
    let descr = value_of(header, "descr").ok_or("the header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let fortran = value_of(header, "fortran_order").ok_or("the header has no 'fortran_order'")? == "True";
    let shape = value_of(header, "shape").ok_or("the header has no 'shape'")?;
    let dims: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("the shape {shape} is not a list of sizes")))
        .collect::<Result<_, _>>()?;
    let [rows, cols] = dims[..] else {
        return Err(format!("the array has shape {shape}: a matrix (two dimensions) is expected"));
    };
    let n = rows.checked_mul(cols).filter(|n| *n <= MAX_VALUES).ok_or(format!("the shape {shape} is too large"))?;
    let (size, read): (usize, fn(&[u8]) -> f64) = match descr {
        "<f8" => (8, |b| f64::from_le_bytes(b.try_into().unwrap_or_default())),
        "<f4" => (4, |b| f64::from(f32::from_le_bytes(b.try_into().unwrap_or_default()))),
        "<i8" => (8, |b| i64::from_le_bytes(b.try_into().unwrap_or_default()) as f64),
        "<i4" => (4, |b| f64::from(i32::from_le_bytes(b.try_into().unwrap_or_default()))),
        "<i2" => (2, |b| f64::from(i16::from_le_bytes(b.try_into().unwrap_or_default()))),
        "<u8" => (8, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()) as f64),
        "<u4" => (4, |b| f64::from(u32::from_le_bytes(b.try_into().unwrap_or_default()))),
        "<u2" => (2, |b| f64::from(u16::from_le_bytes(b.try_into().unwrap_or_default()))),
        "|u1" => (1, |b| f64::from(b[0])),
        "|i1" => (1, |b| f64::from(b[0] as i8)),
        other => {
            return Err(format!(
                "values of type {other} are not read (little-endian floats and integers are: <f8, <f4, <i8, <i4, ...)"
            ))
        }
    };
    if data.len() != n * size {
        return Err(format!("{} bytes of values for shape {shape} of {descr}: {} expected", data.len(), n * size));
    }
    let flat: Vec<f64> = data.chunks_exact(size).map(read).collect();
    let at = |i: usize, j: usize| if fortran { flat[j * rows + i] } else { flat[i * cols + j] };
    Ok((0..rows).map(|i| (0..cols).map(|j| at(i, j)).collect()).collect())
}

fn split(b: &[u8], n: usize) -> Result<(&[u8], &[u8]), String> {
    if b.len() < n {
        return Err("the file is cut short".into());
    }
    Ok(b.split_at(n))
}

/// The text of `key`'s value in the header's dict literal (up to the next `,` outside
/// parentheses, or the closing `}`).
fn value_of<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let start = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0usize;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' | '}' if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `numpy.save` writes for `values` of `descr` (version 1, header padded to 64).
    pub fn npy(descr: &str, fortran: bool, shape: &str, values: &[u8]) -> Vec<u8> {
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(values);
        out
    }

    #[test]
    fn reads_floats_and_integers_in_either_order() {
        let f: Vec<u8> = [0.25f64, 0.5, 0.125, 0.125].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(read_matrix(&npy("<f8", false, "(2, 2)", &f)).unwrap(), vec![vec![0.25, 0.5], vec![0.125, 0.125]]);
        // Fortran order: columns first.
        assert_eq!(read_matrix(&npy("<f8", true, "(2, 2)", &f)).unwrap(), vec![vec![0.25, 0.125], vec![0.5, 0.125]]);
        let i: Vec<u8> = [3i64, 1, 0, 7, 2, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            read_matrix(&npy("<i8", false, "(2, 3)", &i)).unwrap(),
            vec![vec![3.0, 1.0, 0.0], vec![7.0, 2.0, 2.0]]
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_with_the_reason() {
        let f: Vec<u8> = [1.0f64; 4].iter().flat_map(|v| v.to_le_bytes()).collect();
        let bad = |b: &[u8]| read_matrix(b).unwrap_err();
        assert!(bad(b"PK\x03\x04").contains("not a NumPy"));
        assert!(bad(&npy("<f8", false, "(2, 3)", &f)).contains("32 bytes of values"));
        assert!(bad(&npy(">f8", false, "(2, 2)", &f)).contains("type >f8"));
        let full = npy("<f8", false, "(2, 2)", &f);
        assert!(bad(&full[..20]).contains("cut short"));
        assert!(bad(&npy("<f8", false, "(1, 2, 2)", &f)).contains("a matrix (two dimensions) is expected"));
        assert!(bad(&npy("<f8", false, "(1048576, 1048576)", &f)).contains("too large"));
    }
}
