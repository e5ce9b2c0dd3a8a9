//! `rethread export graphml`: the reply graph or the interaction graph as GraphML.

use super::Rows;
use anyhow::Result;
use rethread::export::graph::Kind;
use std::path::PathBuf;

/// Write a graph as GraphML with typed keys (networkx `read_graphml`, igraph, Gephi, yEd).
///
/// --graph replies (the default): a node per post (kind, post_id, platform, author, created_at,
/// text excerpt, themes, depth, thread) and per missing parent (kind gap, with the reason); an
/// edge from each reply to what it replies to (kind reply, quote, conversation).
/// --graph interactions: a node per account (posts), an edge from replier to replied-to with
/// weight (replies), first and last time.
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
        Box::new(rethread::export::graph::Graphml::new(w))
    })
}
