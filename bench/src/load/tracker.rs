//! Matching receipts to submissions by message id, across connections and shards.
//!
//! The SMSC's id arrives in submit_sm_resp; its receipt arrives on any receiver bind,
//! sometimes before the response itself. Ids are reduced to a 64-bit key (numeric ids
//! by value, so a hex id in the response matches the decimal one in the receipt) and
//! kept in striped maps: `awaiting` (id known, receipt not yet seen) and `parked`
//! (receipt seen, id not yet known). Both are bounded; what does not fit is counted,
//! never stored.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::ValueEnum;
use tern_sms::message_id::{IdRadix, parse_id};

/// Stripes of the maps: enough that shards rarely meet on one lock.
const STRIPES: usize = 64;

/// How message ids are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IdMatch {
    /// As strings, octet for octet.
    Text,
    /// As hexadecimal numbers.
    Hex,
    /// As decimal numbers.
    Decimal,
}

/// The key of a message id, `None` when it is not a number of the expected radix.
pub fn id_key(id: &[u8], format: IdMatch) -> Option<u64> {
    let number = |radix| {
        let text = std::str::from_utf8(id).ok()?;
        let value = parse_id(text, radix).ok()?;
        Some(mix((value as u64) ^ mix((value >> 64) as u64)))
    };
    match format {
        IdMatch::Text => Some(fnv1a(id)),
        IdMatch::Hex => number(IdRadix::Hex),
        IdMatch::Decimal => number(IdRadix::Decimal),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What [`Tracker::expect`] did with a submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Now awaiting its receipt.
    Tracked,
    /// Its receipt was already parked: matched, it arrived at `receipt_ns`.
    Matched {
        /// When the receipt arrived.
        receipt_ns: u64,
    },
    /// The map is full; this receipt will not be matched.
    Full,
}

/// What [`Tracker::receipt`] did with a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptMatch {
    /// Matched a submission intended at `submitted_ns`.
    Matched {
        /// The submission's intended send time.
        submitted_ns: u64,
    },
    /// Its submission is not known yet: parked.
    Parked,
}

#[derive(Debug, Default)]
struct Stripe {
    awaiting: HashMap<u64, u64>,
    parked: HashMap<u64, u64>,
    parked_order: VecDeque<u64>,
}

/// The shared receipt matcher.
#[derive(Debug)]
pub struct Tracker {
    stripes: Vec<Mutex<Stripe>>,
    awaiting_per_stripe: usize,
    parked_per_stripe: usize,
    pending: AtomicU64,
    parked_dropped: AtomicU64,
}

impl Tracker {
    /// A matcher holding at most `awaiting_max` submissions and `parked_max` early
    /// receipts.
    pub fn new(awaiting_max: usize, parked_max: usize) -> Tracker {
        Tracker {
            stripes: (0..STRIPES)
                .map(|_| Mutex::new(Stripe::default()))
                .collect(),
            awaiting_per_stripe: awaiting_max.div_ceil(STRIPES).max(1),
            parked_per_stripe: parked_max.div_ceil(STRIPES).max(1),
            pending: AtomicU64::new(0),
            parked_dropped: AtomicU64::new(0),
        }
    }

    fn stripe(&self, key: u64) -> Option<std::sync::MutexGuard<'_, Stripe>> {
        let index = (key as usize) % STRIPES;
        self.stripes.get(index)?.lock().ok()
    }

    /// A submission with this id was acknowledged; its intended send time.
    pub fn expect(&self, key: u64, submitted_ns: u64) -> Expect {
        let Some(mut stripe) = self.stripe(key) else {
            return Expect::Full;
        };
        if let Some(receipt_ns) = stripe.parked.remove(&key) {
            return Expect::Matched { receipt_ns };
        }
        if stripe.awaiting.len() >= self.awaiting_per_stripe {
            return Expect::Full;
        }
        stripe.awaiting.insert(key, submitted_ns);
        self.pending.fetch_add(1, Ordering::Relaxed);
        Expect::Tracked
    }

    /// A receipt for this id arrived at `now_ns`.
    pub fn receipt(&self, key: u64, now_ns: u64) -> ReceiptMatch {
        let Some(mut stripe) = self.stripe(key) else {
            return ReceiptMatch::Parked;
        };
        if let Some(submitted_ns) = stripe.awaiting.remove(&key) {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            return ReceiptMatch::Matched { submitted_ns };
        }
        if stripe.parked.len() >= self.parked_per_stripe {
            // Oldest first out: a receipt parked longest is the least likely to match.
            while let Some(old) = stripe.parked_order.pop_front() {
                if stripe.parked.remove(&old).is_some() {
                    self.parked_dropped.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        stripe.parked.insert(key, now_ns);
        stripe.parked_order.push_back(key);
        if stripe.parked_order.len() > 2 * self.parked_per_stripe {
            // Drop order entries of receipts matched since; bounded either way.
            let live: VecDeque<u64> = stripe
                .parked_order
                .iter()
                .copied()
                .filter(|k| stripe.parked.contains_key(k))
                .collect();
            stripe.parked_order = live;
        }
        ReceiptMatch::Parked
    }

    /// Submissions still awaiting a receipt.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Receipts parked and never matched (still parked, or pushed out when full).
    pub fn unmatched_parked(&self) -> u64 {
        let parked: usize = self
            .stripes
            .iter()
            .filter_map(|s| s.lock().ok().map(|s| s.parked.len()))
            .sum();
        parked as u64 + self.parked_dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_before_submit_resp_is_parked_then_matched() {
        let tracker = Tracker::new(100, 100);
        let key = id_key(b"42", IdMatch::Text).unwrap();
        assert_eq!(tracker.receipt(key, 50), ReceiptMatch::Parked);
        assert_eq!(tracker.expect(key, 10), Expect::Matched { receipt_ns: 50 });
        assert_eq!(tracker.pending(), 0);
        assert_eq!(tracker.unmatched_parked(), 0);
    }

    #[test]
    fn receipt_after_submit_resp_matches_and_clears_pending() {
        let tracker = Tracker::new(100, 100);
        assert_eq!(tracker.expect(7, 10), Expect::Tracked);
        assert_eq!(tracker.pending(), 1);
        assert_eq!(
            tracker.receipt(7, 99),
            ReceiptMatch::Matched { submitted_ns: 10 }
        );
        assert_eq!(tracker.pending(), 0);
    }

    #[test]
    fn hex_response_id_matches_decimal_receipt_id() {
        assert_eq!(
            id_key(b"ff", IdMatch::Hex),
            id_key(b"255", IdMatch::Decimal)
        );
        assert_ne!(id_key(b"ff", IdMatch::Text), id_key(b"255", IdMatch::Text));
        assert_eq!(id_key(b"xyz", IdMatch::Decimal), None);
    }

    #[test]
    fn full_maps_refuse_or_push_out_the_oldest() {
        let tracker = Tracker::new(1, 1);
        // Keys 0 and 64 share stripe 0.
        assert_eq!(tracker.expect(0, 1), Expect::Tracked);
        assert_eq!(tracker.expect(64, 1), Expect::Full);
        assert_eq!(tracker.receipt(128, 1), ReceiptMatch::Parked);
        assert_eq!(tracker.receipt(192, 2), ReceiptMatch::Parked);
        assert_eq!(tracker.unmatched_parked(), 2);
        assert_eq!(tracker.expect(192, 0), Expect::Matched { receipt_ns: 2 });
    }
}
