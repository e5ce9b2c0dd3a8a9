//! GraphML: typed keys, for networkx `read_graphml`, igraph, Gephi and yEd.

use super::{value_text, xml_safe, Graph, Value};
use anyhow::Result;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::io::Write;

/// GraphML with typed keys.
pub fn write_graphml(g: &Graph, out: &mut (impl Write + ?Sized)) -> Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("graphml");
    root.push_attribute(("xmlns", "http://graphml.graphdrawing.org/xmlns"));
    root.push_attribute(("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"));
    root.push_attribute((
        "xsi:schemaLocation",
        "http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd",
    ));
    w.write_event(Event::Start(root))?;
    for (prefix, target, keys) in [("n", "node", &g.node_keys), ("e", "edge", &g.edge_keys)] {
        for (name, int) in keys.iter() {
            let mut k = BytesStart::new("key");
            k.push_attribute(("id", format!("{prefix}_{name}").as_str()));
            k.push_attribute(("for", target));
            k.push_attribute(("attr.name", *name));
            k.push_attribute(("attr.type", if *int { "long" } else { "string" }));
            w.write_event(Event::Empty(k))?;
        }
    }
    if g.pseudonymised {
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
    if g.pseudonymised {
        let mut d = BytesStart::new("data");
        d.push_attribute(("key", "g_pseudonymised"));
        w.write_event(Event::Start(d))?;
        w.write_event(Event::Text(BytesText::new("true")))?;
        w.write_event(Event::End(BytesEnd::new("data")))?;
    }
    let data = |w: &mut Writer<&mut _>, prefix: &str, name: &str, v: &Value| -> Result<()> {
        let mut d = BytesStart::new("data");
        d.push_attribute(("key", format!("{prefix}_{name}").as_str()));
        w.write_event(Event::Start(d))?;
        w.write_event(Event::Text(BytesText::new(&value_text(v))))?;
        w.write_event(Event::End(BytesEnd::new("data")))?;
        Ok(())
    };
    for n in &g.nodes {
        let mut e = BytesStart::new("node");
        e.push_attribute(("id", xml_safe(&n.id).as_str()));
        w.write_event(Event::Start(e))?;
        for (name, v) in &n.attrs {
            data(&mut w, "n", name, v)?;
        }
        w.write_event(Event::End(BytesEnd::new("node")))?;
    }
    for (k, e) in g.edges.iter().enumerate() {
        let mut x = BytesStart::new("edge");
        x.push_attribute(("id", format!("e{k}").as_str()));
        x.push_attribute(("source", xml_safe(&e.source).as_str()));
        x.push_attribute(("target", xml_safe(&e.target).as_str()));
        w.write_event(Event::Start(x))?;
        for (name, v) in &e.attrs {
            data(&mut w, "e", name, v)?;
        }
        w.write_event(Event::End(BytesEnd::new("edge")))?;
    }
    w.write_event(Event::End(BytesEnd::new("graph")))?;
    w.write_event(Event::End(BytesEnd::new("graphml")))?;
    w.into_inner().write_all(b"\n")?;
    Ok(())
}
