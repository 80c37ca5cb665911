//! Values of decorator arguments as written in Python source, and their conversion to YAML.

use crate::diag::Pos;

/// A Python literal (or, for anything else, the expression's source text).
#[derive(Debug, Clone, PartialEq)]
pub enum PyLiteral {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<PyLiteral>),
    Dict(Vec<(PyLiteral, PyLiteral)>),
    /// Not a literal: a name, call or other expression, kept as source text.
    Expr(String),
}

impl PyLiteral {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyLiteral::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A number (int or float).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            PyLiteral::Int(i) => Some(*i as f64),
            PyLiteral::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            PyLiteral::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// How the value reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            PyLiteral::None => "None".into(),
            PyLiteral::Bool(b) => if *b { "True" } else { "False" }.into(),
            PyLiteral::Int(i) => i.to_string(),
            PyLiteral::Float(f) => f.to_string(),
            PyLiteral::Str(s) => format!("{s:?}"),
            PyLiteral::List(_) => "a list".into(),
            PyLiteral::Dict(_) => "a dictionary".into(),
            PyLiteral::Expr(e) => format!("the expression `{e}`"),
        }
    }

    /// The value as YAML data (expressions become strings).
    pub fn to_yaml(&self) -> serde_yaml::Value {
        use serde_yaml::Value;
        match self {
            PyLiteral::None => Value::Null,
            PyLiteral::Bool(b) => Value::Bool(*b),
            PyLiteral::Int(i) => Value::Number((*i).into()),
            PyLiteral::Float(f) => Value::Number((*f).into()),
            PyLiteral::Str(s) | PyLiteral::Expr(s) => Value::String(s.clone()),
            PyLiteral::List(v) => Value::Sequence(v.iter().map(PyLiteral::to_yaml).collect()),
            PyLiteral::Dict(kv) => {
                let mut m = serde_yaml::Mapping::new();
                for (k, v) in kv {
                    m.insert(k.to_yaml(), v.to_yaml());
                }
                Value::Mapping(m)
            }
        }
    }
}

/// A positional or keyword argument with its position in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct PyArg {
    /// `None` for a positional argument.
    pub name: Option<String>,
    pub value: PyLiteral,
    pub pos: Pos,
}

/// One decorator of a function: `@name(args)` or a bare `@name`.
#[derive(Debug, Clone, PartialEq)]
pub struct PyDecorator {
    /// The decorator's name without module prefix (`annotations.exec_time` gives `exec_time`).
    pub name: String,
    /// The full dotted name as written.
    pub full_name: String,
    pub args: Vec<PyArg>,
    /// False for a bare `@name` without parentheses.
    pub called: bool,
    pub pos: Pos,
}
