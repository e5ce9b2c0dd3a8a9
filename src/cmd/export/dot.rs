//! `rethread export dot`: the reply graph or the interaction graph for Graphviz.

use super::Rows;
use anyhow::Result;
use rethread::export::graph::Kind;
use std::path::PathBuf;

/// Write a graph in Graphviz DOT (`dot -Tsvg FILE > graph.svg`): posts as boxes labelled with
/// author and text excerpt, missing parents dashed, an edge from each reply to what it replies
/// to; or, with --graph interactions, accounts and weighted replier → replied-to edges. Every
/// label is escaped.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file to write (`-` for standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,

    /// Which graph: replies (posts) or interactions (accounts).
    #[arg(long, value_enum, default_value_t = Kind::Replies)]
    pub graph: Kind,

    #[command(flatten)]
    pub rows: Rows,
}

pub fn run(args: Args) -> Result<()> {
    super::write_graph(&args.out, args.graph, &args.rows, |w| {
        Box::new(rethread::export::graph::Dot { out: w })
    })
}
