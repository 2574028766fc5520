//! Submission: rounds, answers, timeouts, backoff and failover.

use tern_smpp::CommandStatus;

use super::machine::{Lifecycle, PartState, Phase, Round};
use super::policy::{ErrorClass, LifecycleConfig};
use super::types::{Action, DlrKey, Handled, Ignored};
use crate::message::{ConnectorId, FinalState, Id2, PartRef, Progress, Submitted};

impl Lifecycle {
    /// The Accepted record is durable: queue on the first connector, at the scheduled
    /// time if any.
    pub(super) fn on_durable(&mut self, now_ms: u64, out: &mut Vec<Action>) -> Handled {
        if self.phase != Phase::Accepted {
            return Handled::Ignored(Ignored::Unexpected);
        }
        self.queue_first(now_ms, out);
        Handled::Applied
    }

    /// Queues the parts not yet upstream on the current connector, round 1.
    pub(super) fn queue_first(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        if now_ms >= self.deadline_ms {
            self.finish(now_ms, FinalState::Expired, 0, out);
            return;
        }
        let not_before_ms = self.schedule_at_ms.max(now_ms);
        self.attempt = 1;
        self.phase = Phase::Queued { not_before_ms };
        out.push(Action::Requeue {
            connector: self.connector,
            delay_ms: not_before_ms - now_ms,
        });
    }

    /// The queue hands the message over: one Submit per part not yet upstream.
    pub(super) fn on_retry_due(
        &mut self,
        config: &LifecycleConfig,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Handled {
        let Phase::Queued { not_before_ms } = self.phase else {
            return Handled::Ignored(Ignored::Unexpected);
        };
        if now_ms >= self.deadline_ms {
            self.finish(now_ms, FinalState::Expired, 0, out);
            return Handled::Applied;
        }
        if now_ms < not_before_ms {
            return Handled::Ignored(Ignored::NotDue);
        }
        self.phase = Phase::InFlight;
        self.round = Round::default();
        let connector = self.connector;
        for (index, part) in self.parts.iter_mut().enumerate() {
            if part.state == PartState::Unsent {
                part.state = PartState::InFlight(connector);
                out.push(Action::Submit {
                    part: index as u8,
                    connector,
                });
            }
        }
        self.settle(config, now_ms, out);
        Handled::Applied
    }

    /// A part's submit was answered.
    pub(super) fn on_submit_result(
        &mut self,
        config: &LifecycleConfig,
        now_ms: u64,
        part: u8,
        status: CommandStatus,
        id2: Option<Id2>,
        out: &mut Vec<Action>,
    ) -> Handled {
        let Some(track) = self.parts.get_mut(usize::from(part)) else {
            return Handled::Ignored(Ignored::UnknownPart);
        };
        let PartState::InFlight(connector) = track.state else {
            return Handled::Ignored(Ignored::NotInFlight);
        };
        match (status.is_ok(), id2) {
            (true, Some(id2)) => self.part_submitted(part, connector, id2, now_ms, out),
            // Taken upstream, but no receipt can ever be matched to it.
            (true, None) => self.finish(now_ms, FinalState::Unknown, 0, out),
            (false, _) => {
                // An early receipt cannot be about a submit the upstream refused.
                track.early = None;
                track.state = PartState::Unsent;
                self.last_status = Some(status);
                match config.connector(connector).classify(status) {
                    ErrorClass::Transient => self.round.transient = true,
                    ErrorClass::Failover => self.round.failover = Some(status),
                    ErrorClass::Permanent => {
                        self.finish(now_ms, FinalState::Failed { status }, 0, out)
                    }
                }
            }
        }
        self.settle(config, now_ms, out);
        Handled::Applied
    }

    /// A part is upstream under `id2`: log it, map it, and apply a receipt that came first.
    fn part_submitted(
        &mut self,
        part: u8,
        connector: ConnectorId,
        id2: Id2,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let key = DlrKey { connector, id2 };
        let early = self.parts.get_mut(usize::from(part)).and_then(|track| {
            track.state = PartState::Submitted(connector);
            track.mapped = true;
            track.early.take()
        });
        out.push(Action::Log(Progress::Submitted(Submitted {
            id: self.id,
            part,
            connector,
            id2,
        })));
        out.push(Action::InsertDlr {
            key,
            part: PartRef {
                message: self.id,
                part,
            },
        });
        if let Some(early) = early {
            self.part_final(now_ms, part, early.state, early.error, Some(key), out);
        }
    }

    /// A part's submit timed out (`Some(part)`), or the bind of every in-flight part
    /// dropped (`None`): their fate is unknown, so they go again. A part whose final
    /// receipt already came is known to be upstream: the receipt is applied instead.
    pub(super) fn on_submit_lost(
        &mut self,
        config: &LifecycleConfig,
        now_ms: u64,
        part: Option<u8>,
        out: &mut Vec<Action>,
    ) -> Handled {
        if let Some(part) = part
            && usize::from(part) >= self.parts.len()
        {
            return Handled::Ignored(Ignored::UnknownPart);
        }
        let mut lost_any = false;
        for index in 0..self.parts.len() {
            let selected = part.is_none_or(|part| usize::from(part) == index);
            let Some(track) = self.parts.get_mut(index).filter(|_| selected) else {
                continue;
            };
            if !matches!(track.state, PartState::InFlight(_)) {
                continue;
            }
            track.state = PartState::Unsent;
            lost_any = true;
            match track.early.take() {
                Some(early) if !self.is_final() => {
                    self.part_final(now_ms, index as u8, early.state, early.error, None, out)
                }
                _ => self.round.transient = true,
            }
        }
        if !lost_any {
            return Handled::Ignored(Ignored::NotInFlight);
        }
        self.settle(config, now_ms, out);
        Handled::Applied
    }

    /// Once no part is in flight, ends the round: fail over, back off, or wait for
    /// receipts.
    fn settle(&mut self, config: &LifecycleConfig, now_ms: u64, out: &mut Vec<Action>) {
        if self.is_final() || self.phase != Phase::InFlight {
            return;
        }
        let states = || self.parts.iter().map(|part| part.state);
        if states().any(|state| matches!(state, PartState::InFlight(_))) {
            return;
        }
        if !states().any(|state| state == PartState::Unsent) {
            self.phase = Phase::AwaitingReceipt;
        } else if let Some(status) = self.round.failover {
            self.fail_over(now_ms, status, out);
        } else {
            self.retry_later(config, now_ms, out);
        }
    }

    /// Requeues on the same connector after a backoff, unless the attempts are spent
    /// (then fail over) or the retry would land past the validity deadline (then expire).
    fn retry_later(&mut self, config: &LifecycleConfig, now_ms: u64, out: &mut Vec<Action>) {
        if self.attempt >= config.retry.attempts_max.max(1) {
            let status = self.last_status.unwrap_or(CommandStatus::ESME_RUNKNOWNERR);
            self.fail_over(now_ms, status, out);
            return;
        }
        let delay_ms = config.retry.delay_ms(self.attempt, config.seed, self.id);
        let not_before_ms = now_ms.saturating_add(delay_ms);
        if not_before_ms >= self.deadline_ms {
            self.finish(now_ms, FinalState::Expired, 0, out);
            return;
        }
        self.attempt += 1;
        self.phase = Phase::Queued { not_before_ms };
        out.push(Action::Requeue {
            connector: self.connector,
            delay_ms,
        });
    }

    /// Moves to the next connector of the route, or fails with `status` after the last
    /// (or expires, if the deadline has passed meanwhile).
    fn fail_over(&mut self, now_ms: u64, status: CommandStatus, out: &mut Vec<Action>) {
        if now_ms >= self.deadline_ms {
            self.finish(now_ms, FinalState::Expired, 0, out);
            return;
        }
        let next = usize::from(self.route_index) + 1;
        let Some(to) = self.route.get(next) else {
            self.finish(now_ms, FinalState::Failed { status }, 0, out);
            return;
        };
        out.push(Action::Failover {
            from: self.connector,
            to,
        });
        self.route_index = next as u8;
        self.connector = to;
        self.attempt = 1;
        self.phase = Phase::Queued {
            not_before_ms: now_ms,
        };
        out.push(Action::Requeue {
            connector: to,
            delay_ms: 0,
        });
    }
}
