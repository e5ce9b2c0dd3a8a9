//! GEXF for Gephi: declared attributes, and `start` times on nodes and edges so that Gephi's
//! timeline plays the conversation.
//!
//! GEXF 1.3 (`http://gexf.net/1.3`, `timeformat="dateTime"`) is the default. networkx (3.4)
//! reads only the 1.1draft and 1.2draft namespaces, and no `dateTime` time format: `--gexf-version
//! 1.2draft` writes the same graph in the 1.2draft namespace with `timeformat="date"` (which
//! networkx keeps as strings), for scripts that load it there.

use super::{value_text as text, xml_safe, GEdge, GNode, Graph, Keys, Parts, Value};
use anyhow::Result;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::Writer;
use std::io::Write;

/// Which GEXF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Version {
    #[value(name = "1.3")]
    V13,
    #[value(name = "1.2draft")]
    V12draft,
}

/// The time of a node or edge for the timeline: its `created_at` or `first` attribute.
pub(super) fn start_of(attrs: &[(&'static str, Value)]) -> Option<String> {
    attrs.iter().find_map(|(k, v)| match (k, v) {
        (&"created_at" | &"first", Value::Str(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

pub fn write_gexf(g: &Graph, version: Version, out: &mut (impl Write + ?Sized)) -> Result<()> {
    let mut out = out;
    super::write_parts(g, &mut Gexf::new(&mut out, version))
}

/// GEXF written part by part (see [`super::Parts`]).
pub struct Gexf<'a> {
    w: Writer<&'a mut dyn Write>,
    version: Version,
}

impl<'a> Gexf<'a> {
    pub fn new(out: &'a mut dyn Write, version: Version) -> Gexf<'a> {
        Gexf {
            w: Writer::new_with_indent(out, b' ', 1),
            version,
        }
    }

    fn attvalues(&mut self, attrs: &[(&'static str, Value)]) -> Result<()> {
        let w = &mut self.w;
        w.write_event(Event::Start(BytesStart::new("attvalues")))?;
        for (k, v) in attrs {
            let mut a = BytesStart::new("attvalue");
            a.push_attribute(("for", *k));
            a.push_attribute(("value", text(v).as_str()));
            w.write_event(Event::Empty(a))?;
        }
        w.write_event(Event::End(BytesEnd::new("attvalues")))?;
        Ok(())
    }
}

impl Parts for Gexf<'_> {
    fn wants_source_start(&self) -> bool {
        true
    }

    fn head(&mut self, node_keys: &Keys, edge_keys: &Keys, pseudonymised: bool) -> Result<()> {
        let (ns, ver, timeformat) = match self.version {
            Version::V13 => ("http://gexf.net/1.3", "1.3", "dateTime"),
            Version::V12draft => ("http://www.gexf.net/1.2draft", "1.2", "date"),
        };
        let w = &mut self.w;
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let mut root = BytesStart::new("gexf");
        root.push_attribute(("xmlns", ns));
        root.push_attribute(("version", ver));
        w.write_event(Event::Start(root))?;
        w.write_event(Event::Start(BytesStart::new("meta")))?;
        w.write_event(Event::Start(BytesStart::new("creator")))?;
        w.write_event(Event::Text(quick_xml::events::BytesText::new(&format!(
            "rethread {}",
            env!("CARGO_PKG_VERSION")
        ))))?;
        w.write_event(Event::End(BytesEnd::new("creator")))?;
        if pseudonymised {
            w.write_event(Event::Start(BytesStart::new("description")))?;
            w.write_event(Event::Text(quick_xml::events::BytesText::new(
                "pseudonymised: every account is a salted hash",
            )))?;
            w.write_event(Event::End(BytesEnd::new("description")))?;
        }
        w.write_event(Event::End(BytesEnd::new("meta")))?;
        let mut graph = BytesStart::new("graph");
        graph.push_attribute(("mode", "dynamic"));
        graph.push_attribute(("defaultedgetype", "directed"));
        graph.push_attribute(("timeformat", timeformat));
        w.write_event(Event::Start(graph))?;
        for (class, keys) in [("node", node_keys), ("edge", edge_keys)] {
            let mut a = BytesStart::new("attributes");
            a.push_attribute(("class", class));
            a.push_attribute(("mode", "static"));
            w.write_event(Event::Start(a))?;
            for (name, int) in keys.iter() {
                let mut k = BytesStart::new("attribute");
                k.push_attribute(("id", *name));
                k.push_attribute(("title", *name));
                k.push_attribute(("type", if *int { "long" } else { "string" }));
                w.write_event(Event::Empty(k))?;
            }
            w.write_event(Event::End(BytesEnd::new("attributes")))?;
        }
        w.write_event(Event::Start(BytesStart::new("nodes")))?;
        Ok(())
    }

    fn node(&mut self, n: &GNode) -> Result<()> {
        let mut e = BytesStart::new("node");
        e.push_attribute(("id", xml_safe(&n.id).as_str()));
        e.push_attribute(("label", xml_safe(&n.label).as_str()));
        if let Some(t) = start_of(&n.attrs) {
            e.push_attribute(("start", t.as_str()));
        }
        self.w.write_event(Event::Start(e))?;
        self.attvalues(&n.attrs)?;
        self.w.write_event(Event::End(BytesEnd::new("node")))?;
        Ok(())
    }

    fn edges(&mut self) -> Result<()> {
        self.w.write_event(Event::End(BytesEnd::new("nodes")))?;
        self.w.write_event(Event::Start(BytesStart::new("edges")))?;
        Ok(())
    }

    /// An edge starts when its source (the reply) was posted, unless it says otherwise
    /// (an interaction's first reply).
    fn edge(&mut self, k: usize, e: &GEdge, source_start: Option<&str>) -> Result<()> {
        let mut x = BytesStart::new("edge");
        x.push_attribute(("id", k.to_string().as_str()));
        x.push_attribute(("source", xml_safe(&e.source).as_str()));
        x.push_attribute(("target", xml_safe(&e.target).as_str()));
        if let Some(t) = start_of(&e.attrs).or_else(|| source_start.map(str::to_string)) {
            x.push_attribute(("start", t.as_str()));
        }
        if let Some(wt) = e.attrs.iter().find_map(|(k, v)| match (k, v) {
            (&"weight", Value::Int(n)) => Some(*n),
            _ => None,
        }) {
            x.push_attribute(("weight", wt.to_string().as_str()));
        }
        self.w.write_event(Event::Start(x))?;
        self.attvalues(&e.attrs)?;
        self.w.write_event(Event::End(BytesEnd::new("edge")))?;
        Ok(())
    }

    fn tail(&mut self) -> Result<()> {
        self.w.write_event(Event::End(BytesEnd::new("edges")))?;
        self.w.write_event(Event::End(BytesEnd::new("graph")))?;
        self.w.write_event(Event::End(BytesEnd::new("gexf")))?;
        self.w.get_mut().write_all(b"\n")?;
        Ok(())
    }
}
