//! Collector plumbing shared by every collector: progress bars, running until Ctrl-C, and
//! how a run's end is recorded.

/// The progress bars a collector updates: posts stored, threads (or conversations) asked,
/// and requests sent, whose message shows rate-limit waits.
#[derive(Clone)]
pub struct Bars {
    pub posts: indicatif::ProgressBar,
    pub threads: indicatif::ProgressBar,
    pub requests: indicatif::ProgressBar,
}

impl Bars {
    /// Take the bars off the terminal, before the summary is printed.
    pub fn finish_and_clear(&self) {
        for b in [&self.posts, &self.threads, &self.requests] {
            b.finish_and_clear();
        }
    }

    pub fn hidden() -> Bars {
        Bars {
            posts: indicatif::ProgressBar::hidden(),
            threads: indicatif::ProgressBar::hidden(),
            requests: indicatif::ProgressBar::hidden(),
        }
    }
}

/// An option a collector cannot work with. A collector's `Options` are not flags, so the
/// library names the option by its field (`api_base`); the command that took it says which
/// flag it was (`--api-base`).
#[derive(Debug, thiserror::Error)]
pub enum OptionError {
    /// None of these options says what to collect.
    #[error("nothing to collect: give {}", .0.join(" or "))]
    Nothing(&'static [&'static str]),
    #[error("{option} {value:?}: {problem}")]
    Bad {
        option: &'static str,
        value: String,
        problem: &'static str,
    },
}

/// What every collector tells the run around it ([`run`]), which is written once here: the
/// runtime, Ctrl-C, and how the run's end is recorded. A collector is its phases only.
#[allow(async_fn_in_trait)]
pub(crate) trait Collector {
    /// The job's key in the corpus.
    fn job(&self) -> &str;
    /// The collection itself, phase after phase; stopped between transactions on Ctrl-C.
    async fn phases(&mut self) -> anyhow::Result<()>;
    /// Where the run's end is recorded: the corpus, the summary's `interrupted` flag, and its
    /// list of errors.
    fn end(&mut self) -> (&mut crate::corpus::Corpus, &mut bool, &mut Vec<String>);
    /// The job's counters as JSON, to save (the HTTP totals moved into them first).
    fn counters(&mut self) -> anyhow::Result<String>;
}

/// Run the collector `make` builds: on a small runtime of its own (one thread: the work is
/// waiting on servers), its phases until they end or Ctrl-C, then the end of the run recorded
/// in one transaction: the counters saved, and the job marked done when it ran to its end with
/// no error. Blocks. The caller reads the collector's summary from what is returned; the
/// thread totals come from the thread stage, through the command.
pub(crate) fn run<C: Collector>(make: impl FnOnce() -> anyhow::Result<C>) -> anyhow::Result<C> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut c = make()?;
        // Ctrl-C ends the run between transactions: everything committed stays, and the same
        // command resumes. (A kill -9 lands between or inside a transaction: the same holds.)
        let outcome = until_ctrl_c(c.phases()).await;
        let done = {
            let (_, interrupted, errors) = c.end();
            settle(outcome, interrupted, errors)
        };
        let counters = c.counters()?;
        let job = c.job().to_string();
        let (corpus, _, _) = c.end();
        corpus.end_run(&job, &counters, done)?;
        Ok(c)
    })
}

/// Run a collector's `work` to its end, or until Ctrl-C: `None` when interrupted. Dropping
/// `work` there is safe: a collector writes in transactions, and an unfinished one rolls back,
/// so the same command resumes from what was committed.
pub(crate) async fn until_ctrl_c(
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> Option<anyhow::Result<()>> {
    tokio::select! {
        r = work => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    }
}

/// Record how a collector's run ended (what [`until_ctrl_c`] gave) in its summary:
/// `interrupted` on Ctrl-C, the error in `errors` when it stopped on one. True only when it ran
/// to its end and no error was recorded, during the run or now: the job is done.
pub(crate) fn settle(
    outcome: Option<anyhow::Result<()>>,
    interrupted: &mut bool,
    errors: &mut Vec<String>,
) -> bool {
    match outcome {
        None => {
            *interrupted = true;
            false
        }
        Some(Ok(())) => errors.is_empty(),
        Some(Err(e)) => {
            errors.push(format!("{e:#}"));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_records_how_a_collection_ended() {
        let (mut interrupted, mut errors) = (false, Vec::new());
        assert!(settle(Some(Ok(())), &mut interrupted, &mut errors));
        assert!(!interrupted && errors.is_empty());
        errors.push("host gave up".to_string());
        assert!(
            !settle(Some(Ok(())), &mut interrupted, &mut errors),
            "an error during the run"
        );
        assert!(!settle(
            Some(Err(anyhow::anyhow!("disk full"))),
            &mut interrupted,
            &mut errors
        ));
        assert_eq!(errors, ["host gave up", "disk full"]);
        assert!(!settle(None, &mut interrupted, &mut errors));
        assert!(interrupted);
    }
}
