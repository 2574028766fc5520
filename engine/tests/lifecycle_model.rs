//! Random event sequences against one message: the invariants hold whatever the order.

mod lifecycle_support;

use std::collections::HashSet;

use lifecycle_support::{Harness, VALIDITY_MS, record};
use proptest::prelude::*;
use tern_engine::lifecycle::{
    Action, DlrKey, Event, LifecycleConfig, MessageSlot, RetryPolicy, State,
};
use tern_engine::message::{ConnectorId, Id2};
use tern_smpp::{CommandStatus, MessageState};

#[derive(Debug, Clone)]
enum Step {
    Event(Event),
    /// A final or intermediate receipt for a part, by its DLR key when the shell has one.
    Receipt {
        part: u8,
        state: u8,
        by_key: bool,
    },
    /// A submit answer; OK answers get a fresh ID2.
    Answer {
        part: u8,
        status: u32,
        with_id2: bool,
    },
    Advance(u64),
    /// Park the message if it can be, and unpark it at once.
    Park,
}

fn step() -> impl Strategy<Value = Step> {
    let statuses = prop::sample::select(vec![
        0u32, 0, 0, 0x58, 0x14, 0x08, 0x0B, 0x0A, 0x01, 0x45, 0x65, 0x401,
    ]);
    prop_oneof![
        4 => Just(Step::Event(Event::RetryDue)),
        6 => (0u8..4, statuses, prop::bool::weighted(0.95)).prop_map(|(part, status, with_id2)| Step::Answer { part, status, with_id2 }),
        1 => (0u8..4).prop_map(|part| Step::Event(Event::SubmitTimeout { part })),
        1 => Just(Step::Event(Event::Disconnected)),
        5 => (0u8..4, 0u8..11, prop::bool::weighted(0.8)).prop_map(|(part, state, by_key)| Step::Receipt { part, state, by_key }),
        1 => Just(Step::Event(Event::Cancelled)),
        1 => Just(Step::Event(Event::ValidityExpired)),
        1 => Just(Step::Event(Event::ClientAcknowledged)),
        2 => prop::sample::select(vec![10u64, 1_000, 30_000, 600_000, VALIDITY_MS / 3]).prop_map(Step::Advance),
        1 => Just(Step::Park),
    ]
}

/// Default policy: these receipt states are final.
fn is_final_state(state: u8) -> bool {
    !matches!(state, 0 | 1 | 6)
}

struct Model {
    harness: Harness,
    route_len: u32,
    attempts_max: u32,
    id2_counter: u32,
    final_receipted: HashSet<DlrKey>,
    final_state: Option<State>,
}

impl Model {
    fn key_of(&self, part: u8) -> Option<DlrKey> {
        let message = self.harness.lifecycle.id();
        self.harness
            .seen
            .dlr
            .iter()
            .find(|(_, value)| value.message == message && value.part == part)
            .map(|(key, _)| *key)
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::Event(event) => {
                self.harness.event(event);
            }
            Step::Answer {
                part,
                status,
                with_id2,
            } => {
                self.id2_counter += 1;
                let id2 = (status == 0 && with_id2)
                    .then(|| Id2::new(format!("id-{}", self.id2_counter).as_bytes()).unwrap());
                self.harness.event(Event::SubmitResult {
                    part,
                    status: CommandStatus(status),
                    id2,
                });
            }
            Step::Receipt {
                part,
                state,
                by_key,
            } => {
                let matched = by_key.then(|| self.key_of(part)).flatten();
                if let Some(key) = matched
                    && is_final_state(state)
                {
                    self.final_receipted.insert(key);
                }
                self.harness.event(Event::Receipt {
                    part,
                    state: MessageState(state),
                    error: 0,
                    matched,
                });
            }
            Step::Advance(ms) => {
                self.harness.last.clear();
                self.harness.advance(ms);
            }
            Step::Park => {
                self.harness.last.clear();
                if let Some(slot) = MessageSlot::park(&self.harness.lifecycle) {
                    self.harness.lifecycle = slot.unpark(self.harness.lifecycle.id());
                }
            }
        }
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        let harness = &self.harness;
        prop_assert!(harness.seen.finals_logged <= 1, "two final states");
        prop_assert!(
            !harness.seen.submit_after_final,
            "a Submit after the final state"
        );
        for (part, count) in &harness.seen.submits {
            prop_assert!(
                *count <= self.attempts_max * self.route_len,
                "part {} submitted {} times",
                part,
                count
            );
        }
        for action in &harness.last {
            if let Action::Requeue { delay_ms, .. } = action {
                prop_assert!(
                    harness.now_ms + delay_ms < harness.lifecycle.deadline_ms() + 1,
                    "requeue past validity"
                );
            }
        }
        for key in harness.seen.dlr.keys() {
            prop_assert!(
                !self.final_receipted.contains(key),
                "DLR entry left after its final receipt"
            );
        }
        let mut marked = harness.seen.marked_done.clone();
        marked.sort();
        let before = marked.len();
        marked.dedup();
        prop_assert_eq!(before, marked.len(), "an LSN marked done twice");
        let state = harness.lifecycle.state();
        match self.final_state {
            Some(final_state) => prop_assert_eq!(state, final_state, "left its final state"),
            None if matches!(state, State::Final(_)) => self.final_state = Some(state),
            None => {}
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_event_sequences_keep_the_invariants(
        parts in 1u8..=3,
        route_len in 1usize..=3,
        registered_delivery in prop::sample::select(vec![0u8, 1, 2, 0x11]),
        attempts_max in 1u8..=3,
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let route: Vec<u16> = (1..=route_len as u16).collect();
        let config = LifecycleConfig {
            retry: RetryPolicy { attempts_max, ..RetryPolicy::default() },
            seed: 7,
            ..LifecycleConfig::default()
        };
        let mut model = Model {
            harness: Harness::queued(config, &record(1, parts, &route, registered_delivery)),
            route_len: route_len as u32,
            attempts_max: u32::from(attempts_max),
            id2_counter: 0,
            final_receipted: HashSet::new(),
            final_state: None,
        };
        for step in steps {
            model.apply(step);
            model.check()?;
        }
        // Whatever happened, the validity deadline ends the message, exactly once.
        model.harness.advance(VALIDITY_MS);
        model.apply(Step::Event(Event::ValidityExpired));
        model.check()?;
        prop_assert!(model.harness.lifecycle.is_final());
        prop_assert_eq!(model.harness.seen.finals_logged, 1);
        model.apply(Step::Event(Event::ClientAcknowledged));
        prop_assert!(model.harness.lifecycle.is_released());
        prop_assert_eq!(model.harness.wal.live_records(), 0, "records left after release");
        let _ = ConnectorId(0);
    }
}
