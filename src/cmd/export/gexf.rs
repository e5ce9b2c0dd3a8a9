//! `rethread export gexf`: the reply graph or the interaction graph for Gephi.

use super::Rows;
use anyhow::Result;
use rethread::export::graph::gexf::Version;
use rethread::export::graph::Kind;
use std::path::PathBuf;

/// Write a graph as GEXF for Gephi, with declared attributes and `start` times (each post's
/// time; each interaction's first reply) so that Gephi's timeline plays the conversation.
///
/// GEXF 1.3 by default. networkx reads only GEXF 1.2draft and older: `--gexf-version 1.2draft`
/// writes the same graph for it (times kept as strings).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file to write (`-` for standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,

    /// Which graph: replies (posts) or interactions (accounts).
    #[arg(long, value_enum, default_value_t = Kind::Replies)]
    pub graph: Kind,

    /// GEXF version: 1.3 (Gephi 0.9+) or 1.2draft (also networkx).
    #[arg(long, value_enum, default_value_t = Version::V13)]
    pub gexf_version: Version,

    #[command(flatten)]
    pub rows: Rows,
}

pub fn run(args: Args) -> Result<()> {
    super::write_graph(&args.out, args.graph, &args.rows, |w| {
        Box::new(rethread::export::graph::gexf::Gexf::new(
            w,
            args.gexf_version,
        ))
    })
}
