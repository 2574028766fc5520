//! Behaviours of one message's state machine, each driven through the model shell.

mod lifecycle_support;

use lifecycle_support::{Harness, T0_MS, VALIDITY_MS, record};
use tern_engine::lifecycle::{
    Action, ClientReceipt, ConnectorPolicy, DlrKey, Event, Handled, Ignored, LifecycleConfig,
    MessageSlot, ReceiptReason, ReceiptState, RetryPolicy, State, StatusSet,
};
use tern_engine::message::{ConnectorId, FinalState, Id2, MessageId, PartRef, Progress, kind};
use tern_smpp::{CommandStatus, MessageState};
use tern_wal::Lsn;

const RECEIPT_ON_FINAL: u8 = 1;
const RECEIPT_ON_FAILURE: u8 = 2;
const NO_RECEIPT: u8 = 0;
const INTERMEDIATE_AND_FINAL: u8 = 0x11;

fn id2(text: &str) -> Id2 {
    Id2::new(text.as_bytes()).unwrap()
}

fn key(connector: u16, text: &str) -> DlrKey {
    DlrKey {
        connector: ConnectorId(connector),
        id2: id2(text),
    }
}

fn submitted(part: u8, text: &str) -> Event {
    Event::SubmitResult {
        part,
        status: CommandStatus::ESME_ROK,
        id2: Some(id2(text)),
    }
}

fn refused(part: u8, status: CommandStatus) -> Event {
    Event::SubmitResult {
        part,
        status,
        id2: None,
    }
}

fn receipt(part: u8, state: MessageState, matched: Option<DlrKey>) -> Event {
    Event::Receipt {
        part,
        state,
        error: 0,
        matched,
    }
}

/// A single-part message on `route`, submitted once and answered with ID2 "A1".
fn awaiting(route: &[u16], registered_delivery: u8) -> Harness {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, route, registered_delivery),
    );
    harness.event(Event::RetryDue);
    harness.event(submitted(0, "A1"));
    harness
}

fn final_receipts(harness: &Harness) -> Vec<ClientReceipt> {
    harness
        .seen
        .notified
        .iter()
        .copied()
        .filter(|receipt| matches!(receipt.state, ReceiptState::Final(_)))
        .collect()
}

#[test]
fn durable_message_is_queued_on_first_connector() {
    let harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4, 5], RECEIPT_ON_FINAL),
    );
    assert_eq!(
        harness.lifecycle.state(),
        State::Queued {
            connector: ConnectorId(4),
            attempt: 1,
            not_before_ms: T0_MS
        }
    );
    assert_eq!(harness.seen.requeues, vec![(ConnectorId(4), 0)]);
}

#[test]
fn scheduled_message_is_queued_until_its_schedule_time() {
    let mut message = record(1, 1, &[4], RECEIPT_ON_FINAL);
    message.schedule_at_ms = Some(T0_MS + 60_000);
    let mut harness = Harness::queued(LifecycleConfig::default(), &message);
    assert_eq!(harness.seen.requeues, vec![(ConnectorId(4), 60_000)]);
    assert_eq!(
        harness.event(Event::RetryDue),
        Handled::Ignored(Ignored::NotDue)
    );
    harness.advance(60_000);
    assert_eq!(harness.event(Event::RetryDue), Handled::Applied);
    assert_eq!(harness.seen.submits.get(&0), Some(&1));
}

#[test]
fn submit_success_logs_id2_inserts_dlr_and_awaits_receipt() {
    let harness = awaiting(&[4], RECEIPT_ON_FINAL);
    assert_eq!(
        harness.lifecycle.state(),
        State::AwaitingReceipt { parts_pending: 1 }
    );
    let part = PartRef {
        message: harness.lifecycle.id(),
        part: 0,
    };
    assert_eq!(harness.seen.dlr.get(&key(4, "A1")), Some(&part));
    assert!(harness.last.iter().any(|action| matches!(
        action,
        Action::Log(Progress::Submitted(record)) if record.id2 == id2("A1") && record.connector == ConnectorId(4)
    )));
}

#[test]
fn delivered_receipt_finishes_notifies_and_removes_dlr() {
    let mut harness = awaiting(&[4], RECEIPT_ON_FINAL);
    harness.advance(5_000);
    assert_eq!(
        harness.event(receipt(0, MessageState::DELIVERED, Some(key(4, "A1")))),
        Handled::Applied
    );
    assert_eq!(
        harness.lifecycle.state(),
        State::Final(FinalState::Delivered)
    );
    assert!(harness.seen.dlr.is_empty());
    let receipts = final_receipts(&harness);
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].reason, ReceiptReason::OnFinal);
    assert_eq!(receipts[0].at_ms, T0_MS + 5_000);
    assert!(
        harness
            .last
            .iter()
            .any(|action| matches!(action, Action::Log(Progress::ReceiptPending(_))))
    );
}

#[test]
fn throttled_submit_requeues_with_backoff() {
    let config = LifecycleConfig {
        retry: RetryPolicy {
            jitter_percent: 0,
            ..RetryPolicy::default()
        },
        ..LifecycleConfig::default()
    };
    let mut harness = Harness::queued(config, &record(1, 1, &[4], RECEIPT_ON_FINAL));
    harness.event(Event::RetryDue);
    harness.event(refused(0, CommandStatus::ESME_RTHROTTLED));
    assert_eq!(
        harness.lifecycle.state(),
        State::Queued {
            connector: ConnectorId(4),
            attempt: 2,
            not_before_ms: T0_MS + 1_000
        }
    );
    harness.advance(1_000);
    harness.event(Event::RetryDue);
    harness.event(refused(0, CommandStatus::ESME_RMSGQFUL));
    let delays: Vec<u64> = harness
        .seen
        .requeues
        .iter()
        .map(|(_, delay)| *delay)
        .collect();
    assert_eq!(delays, vec![0, 1_000, 2_000]);
    assert_eq!(harness.seen.submits.get(&0), Some(&2));
}

#[test]
fn backoff_is_bounded_jittered_and_deterministic_per_seed() {
    let policy = RetryPolicy::default();
    let id = MessageId::new(0, 9).unwrap();
    for attempt in 1..=20 {
        let delay = policy.delay_ms(attempt, 42, id);
        let full = (policy.backoff_base_ms << (attempt - 1).min(40)).min(policy.backoff_max_ms);
        assert!(
            delay <= full && delay >= full - full / 100 * 20,
            "attempt {attempt}: {delay}"
        );
        assert_eq!(delay, policy.delay_ms(attempt, 42, id));
    }
    let spread: std::collections::BTreeSet<u64> =
        (0..32).map(|seed| policy.delay_ms(3, seed, id)).collect();
    assert!(spread.len() > 1, "jitter must vary with the seed");
}

#[test]
fn permanent_error_fails_and_notifies_client() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4, 5], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(refused(0, CommandStatus::ESME_RINVMSGLEN));
    let failed = FinalState::Failed {
        status: CommandStatus::ESME_RINVMSGLEN,
    };
    assert_eq!(harness.lifecycle.state(), State::Final(failed));
    assert!(
        harness.seen.failovers.is_empty(),
        "a message-level error does not fail over"
    );
    let receipts = final_receipts(&harness);
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].state, ReceiptState::Final(failed));
    assert_eq!(failed.message_state(), MessageState::UNDELIVERABLE);
}

#[test]
fn failover_goes_to_next_connector_in_order() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4, 5, 6], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(refused(0, CommandStatus::ESME_RINVDSTADR));
    harness.event(Event::RetryDue);
    harness.event(refused(0, CommandStatus::ESME_RINVSRCADR));
    assert_eq!(
        harness.seen.failovers,
        vec![
            (ConnectorId(4), ConnectorId(5)),
            (ConnectorId(5), ConnectorId(6))
        ]
    );
    assert_eq!(
        harness.lifecycle.state(),
        State::Queued {
            connector: ConnectorId(6),
            attempt: 1,
            not_before_ms: T0_MS
        }
    );
    harness.event(Event::RetryDue);
    harness.event(submitted(0, "C9"));
    assert!(harness.seen.dlr.contains_key(&key(6, "C9")));
}

#[test]
fn failover_past_the_last_connector_fails_the_message() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(refused(0, CommandStatus::ESME_RINVDSTADR));
    assert_eq!(
        harness.lifecycle.state(),
        State::Final(FinalState::Failed {
            status: CommandStatus::ESME_RINVDSTADR
        })
    );
}

#[test]
fn failover_statuses_are_configurable_per_connector() {
    let mut config = LifecycleConfig::default();
    let strict = ConnectorPolicy {
        failover: StatusSet::new(&[]).unwrap(),
        ..ConnectorPolicy::default()
    };
    config.connectors.insert(ConnectorId(4), strict);
    let mut harness = Harness::queued(config, &record(1, 1, &[4, 5], RECEIPT_ON_FINAL));
    harness.event(Event::RetryDue);
    harness.event(refused(0, CommandStatus::ESME_RINVDSTADR));
    assert!(harness.seen.failovers.is_empty());
    assert!(harness.lifecycle.is_final());
}

#[test]
fn exhausted_attempts_fail_over_then_fail_with_last_status() {
    let config = LifecycleConfig {
        retry: RetryPolicy {
            attempts_max: 2,
            ..RetryPolicy::default()
        },
        ..LifecycleConfig::default()
    };
    let mut harness = Harness::queued(config, &record(1, 1, &[4, 5], RECEIPT_ON_FINAL));
    for _ in 0..4 {
        harness.advance(120_000);
        harness.event(Event::RetryDue);
        harness.event(refused(0, CommandStatus::ESME_RSYSERR));
    }
    assert_eq!(
        harness.seen.failovers,
        vec![(ConnectorId(4), ConnectorId(5))]
    );
    assert_eq!(harness.seen.submits.get(&0), Some(&4));
    assert_eq!(
        harness.lifecycle.state(),
        State::Final(FinalState::Failed {
            status: CommandStatus::ESME_RSYSERR
        })
    );
}

#[test]
fn validity_passing_while_queued_expires_message() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    assert_eq!(
        harness.event(Event::ValidityExpired),
        Handled::Ignored(Ignored::NotDue)
    );
    harness.advance(VALIDITY_MS);
    assert_eq!(harness.event(Event::ValidityExpired), Handled::Applied);
    assert_eq!(harness.lifecycle.state(), State::Final(FinalState::Expired));
    assert_eq!(
        final_receipts(&harness)[0].state,
        ReceiptState::Final(FinalState::Expired)
    );
    assert_eq!(
        harness.event(Event::RetryDue),
        Handled::Ignored(Ignored::Closed)
    );
    assert!(harness.seen.submits.is_empty());
}

#[test]
fn retry_due_after_the_deadline_expires_instead_of_submitting() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    harness.advance(VALIDITY_MS + 1);
    harness.event(Event::RetryDue);
    assert_eq!(harness.lifecycle.state(), State::Final(FinalState::Expired));
    assert!(harness.seen.submits.is_empty());
}

#[test]
fn retry_that_would_land_past_validity_expires_now() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    harness.advance(VALIDITY_MS - 500);
    harness.event(Event::RetryDue);
    harness.event(refused(0, CommandStatus::ESME_RTHROTTLED));
    assert_eq!(harness.lifecycle.state(), State::Final(FinalState::Expired));
}

#[test]
fn receipt_before_submit_result_is_applied_once_known() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    assert_eq!(
        harness.event(receipt(0, MessageState::DELIVERED, None)),
        Handled::Applied
    );
    assert!(
        !harness.lifecycle.is_final(),
        "held until the submit's answer"
    );
    harness.event(submitted(0, "A1"));
    assert_eq!(
        harness.lifecycle.state(),
        State::Final(FinalState::Delivered)
    );
    assert!(harness.seen.dlr.is_empty(), "inserted then removed");
    assert_eq!(harness.seen.dlr_inserted, vec![key(4, "A1")]);
    assert_eq!(final_receipts(&harness).len(), 1);
}

#[test]
fn early_receipt_is_dropped_when_the_submit_is_refused() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(receipt(0, MessageState::UNDELIVERABLE, None));
    harness.event(refused(0, CommandStatus::ESME_RTHROTTLED));
    assert!(matches!(
        harness.lifecycle.state(),
        State::Queued { attempt: 2, .. }
    ));
}

#[test]
fn submit_timeout_after_an_early_final_receipt_does_not_resubmit() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(receipt(0, MessageState::DELIVERED, None));
    harness.event(Event::SubmitTimeout { part: 0 });
    assert_eq!(
        harness.lifecycle.state(),
        State::Final(FinalState::Delivered)
    );
    assert_eq!(harness.seen.submits.get(&0), Some(&1));
}

#[test]
fn submit_timeout_and_disconnect_requeue_in_flight_parts() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 2, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(Event::SubmitTimeout { part: 1 });
    assert!(matches!(harness.lifecycle.state(), State::InFlight { .. }));
    harness.event(Event::Disconnected);
    assert!(matches!(
        harness.lifecycle.state(),
        State::Queued { attempt: 2, .. }
    ));
    assert_eq!(
        harness.event(submitted(0, "late")),
        Handled::Ignored(Ignored::NotInFlight)
    );
    assert_eq!(
        harness.event(Event::Disconnected),
        Handled::Ignored(Ignored::NotInFlight)
    );
}

#[test]
fn submit_ok_without_an_id2_ends_unknown() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(Event::SubmitResult {
        part: 0,
        status: CommandStatus::ESME_ROK,
        id2: None,
    });
    assert_eq!(harness.lifecycle.state(), State::Final(FinalState::Unknown));
}

#[test]
fn multipart_delivered_only_when_every_part_delivered() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 3, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    assert_eq!(harness.seen.submits.len(), 3);
    for (part, text) in [(0, "P0"), (1, "P1"), (2, "P2")] {
        harness.event(submitted(part, text));
    }
    assert_eq!(
        harness.lifecycle.state(),
        State::AwaitingReceipt { parts_pending: 3 }
    );
    harness.event(receipt(2, MessageState::DELIVERED, Some(key(4, "P2"))));
    harness.event(receipt(0, MessageState::DELIVERED, Some(key(4, "P0"))));
    assert_eq!(
        harness.lifecycle.state(),
        State::AwaitingReceipt { parts_pending: 1 }
    );
    assert!(final_receipts(&harness).is_empty());
    harness.event(receipt(1, MessageState::DELIVERED, Some(key(4, "P1"))));
    assert_eq!(
        harness.lifecycle.state(),
        State::Final(FinalState::Delivered)
    );
    assert_eq!(final_receipts(&harness).len(), 1);
    assert!(harness.seen.dlr.is_empty());
}

#[test]
fn multipart_fails_when_any_part_fails_and_stops_submitting() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 3, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(submitted(0, "P0"));
    harness.event(refused(1, CommandStatus::ESME_RTHROTTLED));
    harness.event(receipt(0, MessageState::UNDELIVERABLE, Some(key(4, "P0"))));
    assert_eq!(
        harness.lifecycle.state(),
        State::Final(FinalState::Undeliverable)
    );
    assert_eq!(
        harness.event(submitted(2, "P2")),
        Handled::Ignored(Ignored::Closed)
    );
    assert_eq!(
        harness.event(Event::RetryDue),
        Handled::Ignored(Ignored::Closed)
    );
    assert_eq!(harness.seen.submits.values().sum::<u32>(), 3);
}

#[test]
fn multipart_resubmits_only_the_parts_not_yet_upstream() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 3, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(submitted(0, "P0"));
    harness.event(refused(1, CommandStatus::ESME_RTHROTTLED));
    harness.event(submitted(2, "P2"));
    harness.advance(60_000);
    harness.event(Event::RetryDue);
    assert_eq!(harness.seen.submits.get(&0), Some(&1));
    assert_eq!(harness.seen.submits.get(&1), Some(&2));
    assert_eq!(harness.seen.submits.get(&2), Some(&1));
}

#[test]
fn duplicate_final_receipt_is_ignored() {
    let mut harness = awaiting(&[4], RECEIPT_ON_FINAL);
    harness.event(receipt(0, MessageState::DELIVERED, Some(key(4, "A1"))));
    let notified = harness.seen.notified.len();
    assert_eq!(
        harness.event(receipt(0, MessageState::DELIVERED, Some(key(4, "A1")))),
        Handled::Ignored(Ignored::Duplicate)
    );
    assert_eq!(
        harness.event(receipt(0, MessageState::UNDELIVERABLE, Some(key(4, "A1")))),
        Handled::Ignored(Ignored::Duplicate)
    );
    assert!(harness.last.is_empty());
    assert_eq!(harness.seen.notified.len(), notified);
    assert_eq!(harness.seen.finals_logged, 1);
}

#[test]
fn intermediate_receipt_after_final_is_ignored() {
    let mut harness = awaiting(&[4], INTERMEDIATE_AND_FINAL);
    harness.event(receipt(0, MessageState::DELIVERED, Some(key(4, "A1"))));
    let notified = harness.seen.notified.len();
    harness.event(receipt(0, MessageState::ENROUTE, Some(key(4, "A1"))));
    assert!(harness.last.is_empty());
    assert_eq!(harness.seen.notified.len(), notified);
}

#[test]
fn intermediate_receipts_reach_only_clients_that_asked_once_per_state() {
    let mut harness = awaiting(&[4], INTERMEDIATE_AND_FINAL);
    harness.event(receipt(0, MessageState::ENROUTE, Some(key(4, "A1"))));
    harness.event(receipt(0, MessageState::ENROUTE, Some(key(4, "A1"))));
    harness.event(receipt(0, MessageState::ACCEPTED, Some(key(4, "A1"))));
    let reasons: Vec<ReceiptState> = harness
        .seen
        .notified
        .iter()
        .map(|receipt| receipt.state)
        .collect();
    assert_eq!(
        reasons,
        vec![
            ReceiptState::Intermediate(MessageState::ENROUTE),
            ReceiptState::Intermediate(MessageState::ACCEPTED)
        ]
    );
    assert!(!harness.lifecycle.is_final());

    let mut quiet = awaiting(&[4], RECEIPT_ON_FINAL);
    quiet.event(receipt(0, MessageState::ENROUTE, Some(key(4, "A1"))));
    assert!(quiet.seen.notified.is_empty());
}

#[test]
fn accepted_receipt_is_final_only_where_the_connector_says_so() {
    let mut config = LifecycleConfig::default();
    config.connectors.insert(
        ConnectorId(4),
        ConnectorPolicy {
            accepted_is_final: true,
            ..ConnectorPolicy::default()
        },
    );
    let mut harness = Harness::queued(config, &record(1, 1, &[4], RECEIPT_ON_FINAL));
    harness.event(Event::RetryDue);
    harness.event(submitted(0, "A1"));
    harness.event(receipt(0, MessageState::ACCEPTED, Some(key(4, "A1"))));
    assert_eq!(
        harness.lifecycle.state(),
        State::Final(FinalState::Delivered)
    );
}

#[test]
fn failure_only_receipt_skips_delivered_messages_and_closes_them() {
    let mut harness = awaiting(&[4], RECEIPT_ON_FAILURE);
    harness.event(receipt(0, MessageState::DELIVERED, Some(key(4, "A1"))));
    assert!(harness.seen.notified.is_empty());
    assert!(harness.lifecycle.is_released());

    let mut failing = awaiting(&[4], RECEIPT_ON_FAILURE);
    failing.event(receipt(0, MessageState::REJECTED, Some(key(4, "A1"))));
    assert_eq!(final_receipts(&failing)[0].reason, ReceiptReason::OnFailure);
}

#[test]
fn no_receipt_requested_closes_with_done_and_releases_every_lsn() {
    let mut harness = awaiting(&[4], NO_RECEIPT);
    harness.event(receipt(0, MessageState::DELIVERED, Some(key(4, "A1"))));
    assert!(
        harness
            .last
            .iter()
            .any(|action| matches!(action, Action::Log(Progress::Done { .. })))
    );
    assert!(harness.lifecycle.is_released());
    assert_eq!(harness.wal.live_records(), 0);
}

#[test]
fn client_ack_logs_receipt_acknowledged_and_releases_every_lsn() {
    let mut harness = awaiting(&[4], RECEIPT_ON_FINAL);
    harness.event(receipt(0, MessageState::DELIVERED, Some(key(4, "A1"))));
    assert!(!harness.lifecycle.is_released());
    assert_eq!(
        harness.wal.live_records(),
        4,
        "accepted, submitted, final, receipt pending"
    );
    assert_eq!(harness.event(Event::ClientAcknowledged), Handled::Applied);
    assert!(harness.lifecycle.is_released());
    assert_eq!(harness.wal.live_records(), 0);
    assert_eq!(
        harness.event(Event::ClientAcknowledged),
        Handled::Ignored(Ignored::Duplicate)
    );
}

#[test]
fn cancelled_message_is_deleted() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::Cancelled);
    assert_eq!(harness.lifecycle.state(), State::Final(FinalState::Deleted));
    assert_eq!(
        harness.event(Event::Cancelled),
        Handled::Ignored(Ignored::Closed)
    );
}

#[test]
fn receipt_for_a_closed_message_removes_its_leftover_dlr_entry_once() {
    let mut harness = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 2, &[4], RECEIPT_ON_FINAL),
    );
    harness.event(Event::RetryDue);
    harness.event(submitted(0, "P0"));
    harness.event(submitted(1, "P1"));
    harness.event(receipt(0, MessageState::REJECTED, Some(key(4, "P0"))));
    assert!(
        harness.seen.dlr.contains_key(&key(4, "P1")),
        "left to the index TTL"
    );
    assert_eq!(
        harness.event(receipt(1, MessageState::DELIVERED, Some(key(4, "P1")))),
        Handled::Ignored(Ignored::Closed)
    );
    assert!(harness.seen.dlr.is_empty());
    assert_eq!(
        harness.event(receipt(1, MessageState::DELIVERED, Some(key(4, "P1")))),
        Handled::Ignored(Ignored::Closed)
    );
    assert!(harness.last.is_empty(), "removed once");
}

#[test]
fn unknown_part_numbers_are_ignored() {
    let mut harness = awaiting(&[4], RECEIPT_ON_FINAL);
    assert_eq!(
        harness.event(receipt(9, MessageState::DELIVERED, None)),
        Handled::Ignored(Ignored::UnknownPart)
    );
    assert_eq!(
        harness.event(submitted(9, "X")),
        Handled::Ignored(Ignored::UnknownPart)
    );
    assert_eq!(
        harness.event(Event::SubmitTimeout { part: 9 }),
        Handled::Ignored(Ignored::UnknownPart)
    );
}

#[test]
fn message_slot_is_24_bytes() {
    assert_eq!(std::mem::size_of::<MessageSlot>(), 24);
    assert!(std::mem::size_of::<MessageSlot>() <= 32);
}

#[test]
fn parked_message_behaves_like_its_full_form() {
    let harness = awaiting(&[4], INTERMEDIATE_AND_FINAL);
    let slot = MessageSlot::park(&harness.lifecycle).expect("single part awaiting its receipt");
    assert_eq!(slot.record_lsn(), harness.lifecycle.record_lsn().unwrap());
    let events = [
        receipt(0, MessageState::ENROUTE, Some(key(4, "A1"))),
        receipt(0, MessageState::UNDELIVERABLE, Some(key(4, "A1"))),
        Event::ClientAcknowledged,
    ];
    let run = |mut lifecycle: tern_engine::lifecycle::Lifecycle| {
        let config = LifecycleConfig::default();
        let mut all = Vec::new();
        for event in events {
            let mut out = Vec::new();
            lifecycle.handle(&config, T0_MS + 1_000, event, &mut out);
            for (offset, action) in out.clone().into_iter().enumerate() {
                if let Action::Log(progress) = action {
                    lifecycle.logged(&progress, Lsn(100 + offset as u64), &mut out);
                }
            }
            all.extend(out);
        }
        all
    };
    let full = run(harness.lifecycle.clone());
    let parked = run(slot.unpark(harness.lifecycle.id()));
    assert_eq!(full, parked);
    assert!(
        full.iter()
            .any(|action| matches!(action, Action::MarkDone(_)))
    );
}

#[test]
fn parking_keeps_a_deadline_that_never_comes_early() {
    let mut message = record(1, 1, &[4], RECEIPT_ON_FINAL);
    message.validity_deadline_ms = T0_MS + 1_500;
    let mut harness = Harness::queued(LifecycleConfig::default(), &message);
    harness.event(Event::RetryDue);
    harness.event(submitted(0, "A1"));
    let slot = MessageSlot::park(&harness.lifecycle).unwrap();
    assert!(slot.deadline_ms() >= message.validity_deadline_ms);
    assert!(slot.deadline_ms() < message.validity_deadline_ms + 1_000);
}

#[test]
fn only_single_part_messages_awaiting_receipts_are_parked() {
    let queued = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 1, &[4], RECEIPT_ON_FINAL),
    );
    assert_eq!(MessageSlot::park(&queued.lifecycle), None);
    let mut multipart = Harness::queued(
        LifecycleConfig::default(),
        &record(1, 2, &[4], RECEIPT_ON_FINAL),
    );
    multipart.event(Event::RetryDue);
    multipart.event(submitted(0, "P0"));
    multipart.event(submitted(1, "P1"));
    assert_eq!(MessageSlot::park(&multipart.lifecycle), None);
}

#[test]
fn relocated_records_are_the_ones_marked_done() {
    let mut harness = awaiting(&[4], NO_RECEIPT);
    let old = harness.lifecycle.record_lsn().unwrap();
    assert!(harness.lifecycle.relocated(old, Lsn(1_000)));
    assert!(!harness.lifecycle.relocated(old, Lsn(1_001)));
    let mut slot = MessageSlot::park(&harness.lifecycle).unwrap();
    assert!(slot.relocated(Lsn(1_000), Lsn(2_000)));
    assert!(
        !slot.relocated(Lsn(2_000), Lsn(1 << 50)),
        "beyond 48 bits stays full form"
    );
    harness.lifecycle = slot.unpark(harness.lifecycle.id());
    harness.event(receipt(0, MessageState::DELIVERED, Some(key(4, "A1"))));
    assert!(harness.seen.marked_done.contains(&Lsn(2_000)));
    assert!(!harness.seen.marked_done.contains(&old));
}

#[test]
fn logged_rejects_another_messages_record() {
    let mut harness = awaiting(&[4], NO_RECEIPT);
    let other = Progress::Done {
        id: MessageId::new(1, 99).unwrap(),
    };
    assert!(!harness.lifecycle.logged(&other, Lsn(77), &mut Vec::new()));
    assert_eq!(other.kind(), kind::DONE);
}
