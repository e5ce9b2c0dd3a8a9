//! GraphML: typed keys, for networkx `read_graphml`, igraph, Gephi and yEd.

use super::{value_text, xml_safe, GEdge, GNode, Graph, Keys, Parts, Value};
use anyhow::Result;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::io::Write;

/// GraphML with typed keys.
pub fn write_graphml(g: &Graph, out: &mut (impl Write + ?Sized)) -> Result<()> {
    let mut out = out;
    super::write_parts(g, &mut Graphml::new(&mut out))
}

/// GraphML written part by part (see [`super::Parts`]).
pub struct Graphml<'a> {
    w: Writer<&'a mut dyn Write>,
}

impl<'a> Graphml<'a> {
    pub fn new(out: &'a mut dyn Write) -> Graphml<'a> {
        Graphml {
            w: Writer::new_with_indent(out, b' ', 1),
        }
    }

    fn data(&mut self, prefix: &str, name: &str, v: &Value) -> Result<()> {
        let mut d = BytesStart::new("data");
        d.push_attribute(("key", format!("{prefix}_{name}").as_str()));
        self.w.write_event(Event::Start(d))?;
        self.w
            .write_event(Event::Text(BytesText::new(&value_text(v))))?;
        self.w.write_event(Event::End(BytesEnd::new("data")))?;
        Ok(())
    }
}

impl Parts for Graphml<'_> {
    fn head(&mut self, node_keys: &Keys, edge_keys: &Keys, pseudonymised: bool) -> Result<()> {
        let w = &mut self.w;
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let mut root = BytesStart::new("graphml");
        root.push_attribute(("xmlns", "http://graphml.graphdrawing.org/xmlns"));
        root.push_attribute(("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"));
        root.push_attribute((
            "xsi:schemaLocation",
            "http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd",
        ));
        w.write_event(Event::Start(root))?;
        for (prefix, target, keys) in [("n", "node", node_keys), ("e", "edge", edge_keys)] {
            for (name, int) in keys.iter() {
                let mut k = BytesStart::new("key");
                k.push_attribute(("id", format!("{prefix}_{name}").as_str()));
                k.push_attribute(("for", target));
                k.push_attribute(("attr.name", *name));
                k.push_attribute(("attr.type", if *int { "long" } else { "string" }));
                w.write_event(Event::Empty(k))?;
            }
        }
        if pseudonymised {
            let mut k = BytesStart::new("key");
            k.push_attribute(("id", "g_pseudonymised"));
            k.push_attribute(("for", "graph"));
            k.push_attribute(("attr.name", "pseudonymised"));
            k.push_attribute(("attr.type", "boolean"));
            w.write_event(Event::Empty(k))?;
        }
        let mut graph = BytesStart::new("graph");
        graph.push_attribute(("id", "rethread"));
        graph.push_attribute(("edgedefault", "directed"));
        w.write_event(Event::Start(graph))?;
        if pseudonymised {
            let mut d = BytesStart::new("data");
            d.push_attribute(("key", "g_pseudonymised"));
            w.write_event(Event::Start(d))?;
            w.write_event(Event::Text(BytesText::new("true")))?;
            w.write_event(Event::End(BytesEnd::new("data")))?;
        }
        Ok(())
    }

    fn node(&mut self, n: &GNode) -> Result<()> {
        let mut e = BytesStart::new("node");
        e.push_attribute(("id", xml_safe(&n.id).as_str()));
        self.w.write_event(Event::Start(e))?;
        for (name, v) in &n.attrs {
            self.data("n", name, v)?;
        }
        self.w.write_event(Event::End(BytesEnd::new("node")))?;
        Ok(())
    }

    fn edges(&mut self) -> Result<()> {
        Ok(())
    }

    fn edge(&mut self, k: usize, e: &GEdge, _: Option<&str>) -> Result<()> {
        let mut x = BytesStart::new("edge");
        x.push_attribute(("id", format!("e{k}").as_str()));
        x.push_attribute(("source", xml_safe(&e.source).as_str()));
        x.push_attribute(("target", xml_safe(&e.target).as_str()));
        self.w.write_event(Event::Start(x))?;
        for (name, v) in &e.attrs {
            self.data("e", name, v)?;
        }
        self.w.write_event(Event::End(BytesEnd::new("edge")))?;
        Ok(())
    }

    fn tail(&mut self) -> Result<()> {
        self.w.write_event(Event::End(BytesEnd::new("graph")))?;
        self.w.write_event(Event::End(BytesEnd::new("graphml")))?;
        self.w.get_mut().write_all(b"\n")?;
        Ok(())
    }
}
