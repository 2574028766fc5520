//! Model test: random sequences of inserts, lookups, removes, parks, flushes and time steps,
//! checked against a `HashMap`. Documented differences the model allows: an entry may outlive
//! its TTL by up to one generation span, and a removed key may still be answered (with a value
//! it once had) from a generation already handed out for writing or from a run.

use std::collections::HashMap;
use std::path::Path;

use proptest::prelude::*;
use tern_engine::dlr_index::{
    DiskRun, DlrIndex, DlrIndexConfig, Fingerprint, FrozenRun, Key, LookupOrPark,
};

const T0_MS: u64 = 1_700_000_000_000;
const KEYS: u8 = 48;

fn config() -> DlrIndexConfig {
    DlrIndexConfig {
        hot_bytes_max: 4 << 20,
        hot_generations_max: 64,
        hot_horizon_ms: 2_000,
        generation_span_ms: 1_000,
        ttl_ms: 10_000,
        disk_bytes_max: u64::MAX,
        parked_max: 1024,
        park_timeout_ms: 500,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert { k: u8, value: u32 },
    Lookup { k: u8 },
    Remove { k: u8 },
    Park { k: u8 },
    Advance { ms: u16 },
    Flush { install_pending: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..KEYS, any::<u32>()).prop_map(|(k, value)| Op::Insert { k, value }),
        4 => (0..KEYS).prop_map(|k| Op::Lookup { k }),
        1 => (0..KEYS).prop_map(|k| Op::Remove { k }),
        2 => (0..KEYS).prop_map(|k| Op::Park { k }),
        2 => (0..3_000u16).prop_map(|ms| Op::Advance { ms }),
        1 => any::<bool>().prop_map(|install_pending| Op::Flush { install_pending }),
    ]
}

fn fingerprint(k: u8) -> Fingerprint {
    let id2 = format!("id-{k}");
    Key::new(u32::from(k % 3), id2.as_bytes())
        .expect("short id")
        .fingerprint()
}

#[derive(Debug)]
struct Entry {
    value: u64,
    last_insert_ms: u64,
    removed: bool,
    /// A generation holding some value of this key may have been handed out for writing.
    maybe_frozen: bool,
    history: Vec<u64>,
}

struct Harness<'a> {
    index: DlrIndex,
    config: DlrIndexConfig,
    dir: &'a Path,
    now_ms: u64,
    model: HashMap<u8, Entry>,
    parked: Vec<(u8, u64, u64)>,
    pending: Vec<FrozenRun>,
    next_token: u64,
}

/// What the model says a lookup of `k` must answer.
enum Expect {
    Exactly(Option<u64>),
    NoneOrOneOf(Vec<u64>),
}

impl Harness<'_> {
    fn expect(&self, k: u8) -> Expect {
        let Some(entry) = self.model.get(&k) else {
            return Expect::Exactly(None);
        };
        let ttl_end_ms = entry.last_insert_ms + self.config.ttl_ms;
        if !entry.removed && self.now_ms < ttl_end_ms {
            Expect::Exactly(Some(entry.value))
        } else if self.now_ms >= ttl_end_ms + self.config.generation_span_ms
            || (entry.removed && !entry.maybe_frozen && self.now_ms < ttl_end_ms)
        {
            // Past TTL plus one span everything is gone; a removed key that never left RAM is
            // gone at once.
            Expect::Exactly(None)
        } else {
            Expect::NoneOrOneOf(entry.history.clone())
        }
    }

    fn check_answer(&self, k: u8, got: Option<u64>) {
        match self.expect(k) {
            Expect::Exactly(want) => assert_eq!(got, want, "key {k} at {}", self.now_ms),
            Expect::NoneOrOneOf(values) => assert!(
                got.is_none_or(|v| values.contains(&v)),
                "key {k}: {got:?} not in {values:?}"
            ),
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Insert { k, value } => self.insert(k, u64::from(value)),
            Op::Lookup { k } => {
                let got = self.index.lookup(fingerprint(k));
                self.check_answer(k, got);
            }
            Op::Remove { k } => {
                self.index.remove(fingerprint(k));
                if let Some(entry) = self.model.get_mut(&k) {
                    entry.removed = true;
                }
            }
            Op::Park { k } => self.park(k),
            Op::Advance { ms } => self.advance(u64::from(ms)),
            Op::Flush { install_pending } => self.flush(install_pending),
        }
        let stats = self.index.stats();
        assert!(stats.hot_bytes <= self.config.hot_bytes_max);
        assert_eq!(stats.parked, self.parked.len());
    }

    fn insert(&mut self, k: u8, value: u64) {
        let outcome = self.index.insert(fingerprint(k), value, self.now_ms);
        let expected: Vec<u64> = self
            .parked
            .iter()
            .filter(|p| p.0 == k)
            .map(|p| p.1)
            .collect();
        assert_eq!(outcome.early_receipts, expected.as_slice());
        self.parked.retain(|p| p.0 != k);
        let entry = self.model.entry(k).or_insert(Entry {
            value,
            last_insert_ms: self.now_ms,
            removed: false,
            maybe_frozen: false,
            history: Vec::new(),
        });
        entry.value = value;
        entry.last_insert_ms = self.now_ms;
        entry.removed = false;
        entry.history.push(value);
    }

    fn park(&mut self, k: u8) {
        let token = self.next_token;
        self.next_token += 1;
        let got = self
            .index
            .lookup_or_park(fingerprint(k), token, self.now_ms);
        match (self.expect(k), got) {
            (Expect::Exactly(Some(want)), got) => assert_eq!(got, LookupOrPark::Found(want)),
            (Expect::Exactly(None), got) => assert_eq!(got, LookupOrPark::Parked),
            (Expect::NoneOrOneOf(values), LookupOrPark::Found(v)) => assert!(values.contains(&v)),
            (Expect::NoneOrOneOf(_), got) => assert_eq!(got, LookupOrPark::Parked),
        }
        if got == LookupOrPark::Parked {
            let deadline_ms = self.now_ms + self.config.park_timeout_ms;
            self.parked.push((k, token, deadline_ms));
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
        self.index.expire(self.now_ms);
        let mut released = Vec::new();
        while let Some(token) = self.index.poll_unmatched(self.now_ms) {
            released.push(token);
        }
        let now_ms = self.now_ms;
        let expected: Vec<u64> = self
            .parked
            .iter()
            .filter(|p| p.2 <= now_ms)
            .map(|p| p.1)
            .collect();
        self.parked.retain(|p| p.2 > now_ms);
        assert_eq!(released, expected);
    }

    fn flush(&mut self, install_pending: bool) {
        if install_pending {
            // Newest first, so installs also happen out of order.
            while let Some(frozen) = self.pending.pop() {
                let path = frozen.write_to(self.dir).expect("write run");
                let run = DiskRun::open(&path).expect("open run");
                self.index.install_run(run, self.now_ms).expect("install");
            }
        }
        while let Some(frozen) = self.index.poll_flush(self.now_ms) {
            self.model.values_mut().for_each(|e| e.maybe_frozen = true);
            self.pending.push(frozen);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn index_answers_like_a_hashmap_for_live_keys(ops in prop::collection::vec(op(), 1..200)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config();
        let mut harness = Harness {
            index: DlrIndex::new(config.clone()).expect("valid config"),
            config,
            dir: dir.path(),
            now_ms: T0_MS,
            model: HashMap::new(),
            parked: Vec::new(),
            pending: Vec::new(),
            next_token: 0,
        };
        for op in &ops {
            harness.apply(op);
        }
        for k in 0..KEYS {
            let got = harness.index.lookup(fingerprint(k));
            harness.check_answer(k, got);
        }
        let counters = harness.index.stats().counters;
        prop_assert_eq!(counters.hot_entries_evicted, 0);
        prop_assert_eq!(counters.insert_failures, 0);
    }
}
