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
    pub fn hidden() -> Bars {
        Bars {
            posts: indicatif::ProgressBar::hidden(),
            threads: indicatif::ProgressBar::hidden(),
            requests: indicatif::ProgressBar::hidden(),
        }
    }
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
