//! A classifier's confusion matrix with its class names, as `@model_performance` reads them
//! from `src/<folder>/classification_performance/` (the metrics are in `accuracy`).

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::npy::Matrix;

/// The folder of a component's classification files, under `src/<folder>/`.
pub const FOLDER: &str = "classification_performance";

/// The confusion matrices of the components, by component (or alternative) name.
pub type Confusions = BTreeMap<String, Confusion>;

/// A component's confusion matrix and its class names: `matrix[i][j]` is the share (or count)
/// of samples of class `classes[i]` predicted as `classes[j]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Confusion {
    /// The file shown in messages.
    pub file: String,
    pub classes: Vec<String>,
    pub matrix: Matrix,
}

impl Confusion {
    /// Reads `class_names_dictionary.csv` (`,class,index` lines, as pandas writes it) against
    /// the matrix: each class gets its row and column by `index`.
    pub fn new(file: String, csv: &str, csv_file: &str, matrix: Matrix) -> Result<Confusion, Diagnostic> {
        let n = matrix.len();
        if n == 0 || matrix.iter().any(|r| r.len() != n) {
            return Err(Diagnostic::error(&file, "", "a confusion matrix must be square (classes × classes)"));
        }
        if matrix.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(Diagnostic::error(&file, "", "a confusion matrix holds shares or counts: values ≥ 0"));
        }
        let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
        let head: Vec<String> = lines.next().unwrap_or_default().split(',').map(|s| s.trim().to_string()).collect();
        let col = |name: &str| head.iter().position(|h| h == name);
        let (Some(ci), Some(ii)) = (col("class"), col("index")) else {
            return Err(Diagnostic::error(csv_file, "", "expected a header with the columns `class` and `index`"));
        };
        let mut classes = vec![String::new(); n];
        for (k, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let bad = |why: String| Diagnostic::error(csv_file, format!("line {}", k + 2), why);
            let (Some(name), Some(index)) = (cells.get(ci), cells.get(ii)) else {
                return Err(bad("expected a class name and its index".into()));
            };
            let index: usize = index.parse().map_err(|_| bad(format!("index `{index}` is not a whole number")))?;
            let slot =
                classes.get_mut(index).ok_or_else(|| bad(format!("index {index}: the matrix has {n} classes")))?;
            *slot = name.to_string();
        }
        if let Some(i) = classes.iter().position(String::is_empty) {
            return Err(Diagnostic::error(
                csv_file,
                "",
                format!("no class has index {i} (the matrix has {n} classes)"),
            ));
        }
        Ok(Confusion { file, classes, matrix })
    }

    pub(super) fn index(&self, class: &str) -> Result<usize, String> {
        self.classes.iter().position(|c| c == class).ok_or_else(|| {
            format!("{}: class `{class}` is not among its classes ({})", self.file, self.classes.join(", "))
        })
    }

    pub(super) fn total(&self) -> f64 {
        self.matrix.iter().flatten().sum()
    }
}
