//! How a deployment, a rolling deploy's target and an environment's gate
//! change state.

use std::fmt;

use super::run::Conclusion;

/// Where a deployment is: held at its environment's gate, let through and
/// waiting its turn, deploying, or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Deployment {
    Waiting,
    Queued,
    InProgress,
    Success,
    Failure,
    /// A rolling deploy failed and put every target it had updated back
    /// on its previous release.
    RolledBack,
    Rejected,
    Cancelled,
}

impl Deployment {
    pub const ALL: [Deployment; 8] = [
        Deployment::Waiting,
        Deployment::Queued,
        Deployment::InProgress,
        Deployment::Success,
        Deployment::Failure,
        Deployment::RolledBack,
        Deployment::Rejected,
        Deployment::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Deployment::Waiting => "waiting",
            Deployment::Queued => "queued",
            Deployment::InProgress => "in_progress",
            Deployment::Success => "success",
            Deployment::Failure => "failure",
            Deployment::RolledBack => "rolled_back",
            Deployment::Rejected => "rejected",
            Deployment::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Deployment> {
        Deployment::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Ended, one way or another.
    pub fn is_final(self) -> bool {
        !matches!(self, Deployment::Waiting | Deployment::Queued | Deployment::InProgress)
    }

    /// The state GitHub's deployment statuses give it (they know no
    /// rejection, rollback or cancel: a rejected or rolled-back deployment
    /// failed, a cancelled one is inactive).
    pub const fn github_state(self) -> &'static str {
        match self {
            Deployment::Rejected | Deployment::RolledBack => "failure",
            Deployment::Cancelled => "inactive",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

stored_as_text!(Deployment);

/// Where one target of a rolling deploy (`hearth/deploy`) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Not reached yet (or never: an earlier batch failed).
    Pending,
    InProgress,
    /// On the new release, validated.
    Success,
    /// Its update failed.
    Failure,
    /// Updated (or partly), then put back on its previous release.
    RolledBack,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::Pending,
        Target::InProgress,
        Target::Success,
        Target::Failure,
        Target::RolledBack,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Target::Pending => "pending",
            Target::InProgress => "in_progress",
            Target::Success => "success",
            Target::Failure => "failure",
            Target::RolledBack => "rolled_back",
        }
    }

    pub fn parse(text: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

stored_as_text!(Target);

/// How a rolling deploy over `targets` targets goes in batches: at most
/// `max_unavailable` targets out of service at once, and at least
/// `min_healthy` in service; at least one at a time. `None` when the two
/// cannot both hold (`min_healthy` is every target).
pub fn batch_size(targets: usize, max_unavailable: usize, min_healthy: usize) -> Option<usize> {
    if min_healthy >= targets {
        return None;
    }
    Some(max_unavailable.min(targets - min_healthy).max(1))
}

/// A rolling deploy whose batch failed ends rolled back when every target
/// it had touched went back; when one could not, it failed.
pub fn rolling_failed(all_went_back: bool) -> Deployment {
    if all_went_back {
        Deployment::RolledBack
    } else {
        Deployment::Failure
    }
}

/// A deployment job before it starts: its environment's gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Held: it waits for a reviewer (the job shows as waiting).
    Hold,
    /// Let through, but the environment is busy with another deployment
    /// or its wait timer runs: it waits its turn, queued.
    Later,
    /// It may start.
    Go,
}

/// The gate of a deployment in `state`, with `busy` another deployment of
/// its environment going and `timer_done` its wait timer run out.
pub fn gate(state: Deployment, busy: bool, timer_done: bool) -> Gate {
    match state {
        Deployment::Waiting => Gate::Hold,
        _ if busy || !timer_done => Gate::Later,
        _ => Gate::Go,
    }
}

/// A new deployment: held for review when the environment has reviewers.
pub fn deployment_created(reviewed: bool) -> Deployment {
    if reviewed {
        Deployment::Waiting
    } else {
        Deployment::Queued
    }
}

/// The deployment of a job that ended with `conclusion`.
pub fn deployment_ended(conclusion: Conclusion) -> Deployment {
    match conclusion {
        Conclusion::Success => Deployment::Success,
        Conclusion::Cancelled | Conclusion::Skipped => Deployment::Cancelled,
        Conclusion::Failure | Conclusion::TimedOut => Deployment::Failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Conclusion::*;

    #[test]
    fn names_round_trip() {
        for d in Deployment::ALL {
            assert_eq!(Deployment::parse(d.as_str()), Some(d));
        }
        for t in Target::ALL {
            assert_eq!(Target::parse(t.as_str()), Some(t));
        }
        assert_eq!(Deployment::RolledBack.github_state(), "failure");
    }

    #[test]
    fn rolling_batches_keep_enough_targets_in_service() {
        // Three targets, one at a time (the default).
        assert_eq!(batch_size(3, 1, 0), Some(1));
        // Two may be down, but two must serve: one at a time.
        assert_eq!(batch_size(3, 2, 2), Some(1));
        assert_eq!(batch_size(4, 3, 2), Some(2));
        // Everything at once, when asked.
        assert_eq!(batch_size(3, 10, 0), Some(3));
        // At least one target moves, even with max-unavailable 0.
        assert_eq!(batch_size(3, 0, 0), Some(1));
        // Every target must stay healthy: no batch can start.
        assert_eq!(batch_size(3, 1, 3), None);
        assert_eq!(batch_size(0, 1, 0), None);
        assert_eq!(rolling_failed(true), Deployment::RolledBack);
        assert_eq!(rolling_failed(false), Deployment::Failure);
    }

    #[test]
    fn a_deployment_passes_its_gate_when_reviewed_its_turn_come_and_its_timer_run() {
        use super::Deployment as D;
        assert_eq!(deployment_created(true), D::Waiting);
        assert_eq!(deployment_created(false), D::Queued);
        assert_eq!(gate(D::Waiting, false, true), Gate::Hold);
        assert_eq!(gate(D::Queued, true, true), Gate::Later, "one deployment at a time");
        assert_eq!(gate(D::Queued, false, false), Gate::Later, "the wait timer");
        assert_eq!(gate(D::Queued, false, true), Gate::Go);
        assert_eq!(deployment_ended(Success), D::Success);
        assert_eq!(deployment_ended(TimedOut), D::Failure);
        assert_eq!(deployment_ended(Cancelled), D::Cancelled);
        assert_eq!(D::Rejected.github_state(), "failure");
        assert!(D::Rejected.is_final() && !D::Queued.is_final());
        for d in D::ALL {
            assert_eq!(D::parse(d.as_str()), Some(d));
        }
    }
}
