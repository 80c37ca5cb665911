//! Reads the decorators of `main` in a component's `main.py` with a real Python parser
//! (rustpython-parser): decorators over several lines, comments, keyword and positional
//! arguments, lists and dictionaries are handled as Python itself reads them.

use aisprint_model::diag::{Diagnostic, Diagnostics, Pos};
use aisprint_model::pyliteral::{PyArg, PyDecorator, PyLiteral};
use num_traits::ToPrimitive;
use rustpython_parser::ast::{self, Constant, Expr, Ranged, Stmt};
use rustpython_parser::{parse, Mode};

/// Byte offset -> 1-based line and column (columns count characters).
struct Lines<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        Self { src, starts }
    }

    fn pos(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|s| *s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self.src.get(start..offset).map_or(1, |s| s.chars().count() + 1);
        Pos { line, column }
    }

    fn text(&self, range: ast::text_size::TextRange) -> &'a str {
        self.src.get(usize::from(range.start())..usize::from(range.end())).unwrap_or("")
    }
}

/// What a component script says about itself.
#[derive(Debug, Clone, Default)]
pub struct ScriptInfo {
    /// Every top-level function named `main` (a script should have exactly one; the caller
    /// reports otherwise), with the position of its `def` and its decorators.
    pub mains: Vec<(Pos, Vec<PyDecorator>)>,
    /// Names the script imports from the `aisprint` package (`from aisprint.annotations import
    /// exec_time` gives `exec_time`).
    pub aisprint_imports: Vec<String>,
}

/// Parses a script and reads the decorators of its `main`.
pub fn read_script(file: &str, source: &str) -> Result<ScriptInfo, Diagnostics> {
    let lines = Lines::new(source);
    let module = parse(source, Mode::Module, file).map_err(|e| {
        let pos = lines.pos(usize::from(e.offset));
        Diagnostics::from(Diagnostic::error(file, "", format!("Python syntax error: {}", e.error)).at(Some(pos)))
    })?;
    let body = match module {
        ast::Mod::Module(m) => m.body,
        _ => Vec::new(),
    };
    let mut found = Vec::new();
    let mut imports = Vec::new();
    for stmt in &body {
        if let Stmt::ImportFrom(i) = stmt {
            if i.module.as_ref().is_some_and(|m| m.as_str() == "aisprint" || m.as_str().starts_with("aisprint.")) {
                for a in &i.names {
                    imports.push(a.asname.as_ref().unwrap_or(&a.name).to_string());
                }
            }
        }
        let (name, decorators, range) = match stmt {
            Stmt::FunctionDef(f) => (f.name.as_str(), &f.decorator_list, f.range),
            Stmt::AsyncFunctionDef(f) => (f.name.as_str(), &f.decorator_list, f.range),
            _ => continue,
        };
        if name != "main" {
            continue;
        }
        let decs = decorators.iter().map(|d| decorator(&lines, d)).collect();
        found.push((lines.pos(usize::from(range.start())), decs));
    }
    Ok(ScriptInfo { mains: found, aisprint_imports: imports })
}

fn dotted_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => Some(format!("{}.{}", dotted_name(&a.value)?, a.attr)),
        _ => None,
    }
}

fn decorator(lines: &Lines<'_>, e: &Expr) -> PyDecorator {
    let pos = lines.pos(usize::from(e.range().start()));
    let (func, call) = match e {
        Expr::Call(c) => (c.func.as_ref(), Some(c)),
        other => (other, None),
    };
    let full_name = dotted_name(func).unwrap_or_else(|| lines.text(func.range()).to_string());
    let name = full_name.rsplit('.').next().unwrap_or(&full_name).to_string();
    let mut args = Vec::new();
    if let Some(c) = call {
        for a in &c.args {
            args.push(PyArg { name: None, value: literal(lines, a), pos: lines.pos(usize::from(a.range().start())) });
        }
        for k in &c.keywords {
            args.push(PyArg {
                name: Some(k.arg.as_ref().map_or_else(|| "**".to_string(), |i| i.to_string())),
                value: literal(lines, &k.value),
                pos: lines.pos(usize::from(k.range.start())),
            });
        }
    }
    PyDecorator { name, full_name, args, called: call.is_some(), pos }
}

fn constant(c: &Constant) -> Option<PyLiteral> {
    Some(match c {
        Constant::None => PyLiteral::None,
        Constant::Bool(b) => PyLiteral::Bool(*b),
        Constant::Str(s) => PyLiteral::Str(s.clone()),
        Constant::Int(i) => PyLiteral::Int(i.to_i64()?),
        Constant::Float(f) => PyLiteral::Float(*f),
        Constant::Tuple(items) => PyLiteral::List(items.iter().map(constant).collect::<Option<Vec<_>>>()?),
        _ => return None,
    })
}

fn literal(lines: &Lines<'_>, e: &Expr) -> PyLiteral {
    let expr = || PyLiteral::Expr(lines.text(e.range()).to_string());
    match e {
        Expr::Constant(c) => constant(&c.value).unwrap_or_else(expr),
        Expr::List(l) => PyLiteral::List(l.elts.iter().map(|x| literal(lines, x)).collect()),
        Expr::Tuple(t) => PyLiteral::List(t.elts.iter().map(|x| literal(lines, x)).collect()),
        Expr::Dict(d) => {
            let mut kv = Vec::new();
            for (k, v) in d.keys.iter().zip(&d.values) {
                match k {
                    Some(k) => kv.push((literal(lines, k), literal(lines, v))),
                    None => return expr(), // `**other` spreads: not a literal
                }
            }
            PyLiteral::Dict(kv)
        }
        Expr::UnaryOp(u) if matches!(u.op, ast::UnaryOp::USub | ast::UnaryOp::UAdd) => {
            let neg = matches!(u.op, ast::UnaryOp::USub);
            match literal(lines, &u.operand) {
                PyLiteral::Int(i) => PyLiteral::Int(if neg { -i } else { i }),
                PyLiteral::Float(f) => PyLiteral::Float(if neg { -f } else { f }),
                _ => expr(),
            }
        }
        _ => expr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
import os
from aisprint.annotations import component_name, exec_time, annotation
import functools

@functools.lru_cache()   # not ours: left alone
@component_name(
    name='blurry-faces-onnx',  # a comment inside
)
@exec_time(local_time_thr=20,
           global_time_thr=40.5, prev_components=["a", 'b'])
@annotation({'partitionable_model': {'onnx_file': 'm.onnx'}, 'neg': -3})
def main(args):
    pass

def helper():
    pass
"#;

    #[test]
    fn reads_decorators_of_main() {
        let info = read_script("main.py", SRC).expect("parses");
        assert_eq!(info.aisprint_imports, ["component_name", "exec_time", "annotation"]);
        let found = info.mains;
        assert_eq!(found.len(), 1);
        let (def_pos, decs) = &found[0];
        assert_eq!(def_pos.line, 13);
        let names: Vec<&str> = decs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["lru_cache", "component_name", "exec_time", "annotation"]);
        assert_eq!(decs[0].full_name, "functools.lru_cache");
        let cn = &decs[1];
        assert_eq!(cn.args[0].name.as_deref(), Some("name"));
        assert_eq!(cn.args[0].value, PyLiteral::Str("blurry-faces-onnx".into()));
        assert_eq!(cn.args[0].pos, Pos { line: 8, column: 5 });
        let et = &decs[2];
        assert_eq!(et.args[1].value, PyLiteral::Float(40.5));
        assert_eq!(et.args[1].pos.line, 11);
        assert_eq!(et.args[2].value, PyLiteral::List(vec![PyLiteral::Str("a".into()), PyLiteral::Str("b".into())]));
        match &decs[3].args[0].value {
            PyLiteral::Dict(kv) => {
                assert_eq!(kv.len(), 2);
                assert_eq!(kv[1].1, PyLiteral::Int(-3));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_error_has_line() {
        let err = read_script("main.py", "@exec_time(local_time_thr=\ndef main(:\n  pass\n").expect_err("fails");
        assert!(err.0[0].line.is_some());
        assert!(err.0[0].message.contains("syntax error"));
    }

    #[test]
    fn non_literal_arguments_keep_their_text() {
        let found =
            read_script("m.py", "@exec_time(local_time_thr=THR * 2)\ndef main():\n  pass\n").expect("parses").mains;
        assert_eq!(found[0].1[0].args[0].value, PyLiteral::Expr("THR * 2".into()));
    }
}
