//! `rethread export dot`: the reply graph or the interaction graph for Graphviz.

use super::{write_atomically, Rows};
use anyhow::Result;
use rethread::export::graph::{build, write_dot, Kind};
use std::path::PathBuf;

/// Write a graph in Graphviz DOT (`dot -Tsvg FILE > graph.svg`): posts as boxes labelled with
/// author and text excerpt, missing parents dashed, an edge from each reply to what it replies
/// to; or, with --graph interactions, accounts and weighted replier → replied-to edges. Every
/// label is escaped.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Which graph: replies (posts) or interactions (accounts).
    #[arg(long, value_enum, default_value_t = Kind::Replies)]
    pub graph: Kind,

    #[command(flatten)]
    pub rows: Rows,
}

pub fn run(args: Args) -> Result<()> {
    let l = args.rows.load()?;
    let mut g = build(
        args.graph,
        &l.set,
        &l.threads,
        &l.selected,
        Some((&l.book, &l.codes)),
    );
    g.pseudonymised = l.pseudonymised;
    write_atomically(&args.out, |out| write_dot(&g, out))?;
    eprintln!(
        "wrote {} nodes and {} edges to {}",
        g.nodes.len(),
        g.edges.len(),
        args.out.display()
    );
    crate::cmd::leak_at_exit(l.set, l.threads);
    Ok(())
}
