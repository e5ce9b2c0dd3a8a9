//! DOT for Graphviz: every label and attribute a DOT string literal, escaped.

use super::{value_text, GEdge, GNode, Graph, Keys, Parts, Value};
use anyhow::Result;
use std::io::Write;

/// A DOT string literal: `"` and `\` escaped, line breaks as `\n`, control characters dropped.
fn dot_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// DOT for Graphviz: posts as boxes labelled author and excerpt, gaps dashed.
pub fn write_dot(g: &Graph, out: &mut (impl Write + ?Sized)) -> Result<()> {
    let mut out = out;
    super::write_parts(g, &mut Dot { out: &mut out })
}

/// DOT written part by part (see [`super::Parts`]).
pub struct Dot<'a> {
    pub out: &'a mut dyn Write,
}

impl Parts for Dot<'_> {
    fn head(&mut self, _: &Keys, _: &Keys, pseudonymised: bool) -> Result<()> {
        let out = &mut self.out;
        writeln!(out, "digraph rethread {{")?;
        if pseudonymised {
            writeln!(out, "  // pseudonymised: every account is a salted hash")?;
            writeln!(out, "  comment=\"pseudonymised\";")?;
        }
        writeln!(out, "  rankdir=BT;")?;
        writeln!(out, "  node [shape=box, fontsize=10];")?;
        Ok(())
    }

    fn node(&mut self, n: &GNode) -> Result<()> {
        let gap = n
            .attrs
            .iter()
            .any(|(k, v)| *k == "kind" && *v == Value::Str("gap".into()));
        let text = n.attrs.iter().find_map(|(k, v)| match (k, v) {
            (&"text", Value::Str(t)) if !t.is_empty() => {
                Some(t.chars().take(60).collect::<String>())
            }
            _ => None,
        });
        let label = match text {
            Some(t) => format!("{}\n{}", n.label, t),
            None => n.label.clone(),
        };
        let mut attrs = vec![format!("label={}", dot_str(&label))];
        for (k, v) in &n.attrs {
            if *k != "text" {
                attrs.push(format!("{k}={}", dot_str(&value_text(v))));
            }
        }
        if gap {
            attrs.push("style=dashed".into());
        }
        writeln!(self.out, "  {} [{}];", dot_str(&n.id), attrs.join(", "))?;
        Ok(())
    }

    fn edges(&mut self) -> Result<()> {
        Ok(())
    }

    fn edge(&mut self, _: usize, e: &GEdge, _: Option<&str>) -> Result<()> {
        let attrs: Vec<String> = e
            .attrs
            .iter()
            .map(|(k, v)| format!("{k}={}", dot_str(&value_text(v))))
            .collect();
        writeln!(
            self.out,
            "  {} -> {} [{}];",
            dot_str(&e.source),
            dot_str(&e.target),
            attrs.join(", ")
        )?;
        Ok(())
    }

    fn tail(&mut self) -> Result<()> {
        writeln!(self.out, "}}")?;
        Ok(())
    }
}
