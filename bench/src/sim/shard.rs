//! One simulator shard: its receipt store, its binds, and the routing of due receipts.
//!
//! Everything here is owned by one executor thread (`Rc<RefCell<_>>`); the only state
//! shared with other shards is [`Global`]: which shards have receiver binds of a
//! system_id, and a bounded inbox per shard for receipts whose system_id has no receiver
//! bind here (the slow path; a transceiver bind gets its own receipts locally).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use super::config::SimConfig;
use super::stats::ShardStats;
use super::store::{PendingReceipt, ReceiptStore, Slot};
use crate::rng::Rng;
use crate::stop::StopSignal;

/// Receipts one shard's inbox holds from other shards before it refuses more.
pub const INBOX_CAPACITY: usize = 65_536;
/// How often receipts held for a system_id with no receiver bind are routed again.
pub const HELD_RETRY: Duration = Duration::from_millis(100);

/// A system_id name shared between shards.
pub type SystemName = Arc<str>;

/// State shared by all shards of one simulator.
#[derive(Debug)]
pub struct Global {
    /// Receiver binds per system_id, counted per shard.
    receivers: Mutex<HashMap<SystemName, Vec<u32>>>,
    /// One inbox per shard.
    inboxes: Vec<Inbox>,
    /// Raised to stop every shard.
    pub stop: Arc<StopSignal>,
}

/// Receipts handed to a shard by the others.
#[derive(Debug, Default)]
struct Inbox {
    items: Mutex<VecDeque<(SystemName, PendingReceipt)>>,
    waker: Mutex<Option<Waker>>,
}

impl Global {
    /// Shared state for `shards` shards.
    pub fn new(shards: usize, stop: Arc<StopSignal>) -> Arc<Global> {
        Arc::new(Global {
            receivers: Mutex::new(HashMap::new()),
            inboxes: (0..shards).map(|_| Inbox::default()).collect(),
            stop,
        })
    }

    fn count_receiver(&self, name: &SystemName, shard: usize, add: bool) {
        let Ok(mut receivers) = self.receivers.lock() else {
            return;
        };
        let shards = self.inboxes.len();
        let counts = receivers
            .entry(Arc::clone(name))
            .or_insert_with(|| vec![0; shards]);
        if let Some(count) = counts.get_mut(shard) {
            *count = if add {
                count.saturating_add(1)
            } else {
                count.saturating_sub(1)
            };
        }
    }

    /// Another shard with a receiver bind of `name`.
    fn shard_with_receiver(&self, name: &SystemName, except: usize) -> Option<usize> {
        let receivers = self.receivers.lock().ok()?;
        let counts = receivers.get(name)?;
        counts
            .iter()
            .enumerate()
            .find(|&(shard, &count)| shard != except && count > 0)
            .map(|(shard, _)| shard)
    }

    /// Hands `receipt` to `shard`; gives it back when that inbox is full.
    fn forward(
        &self,
        shard: usize,
        name: SystemName,
        receipt: PendingReceipt,
    ) -> Option<PendingReceipt> {
        let Some(inbox) = self.inboxes.get(shard) else {
            return Some(receipt);
        };
        {
            let Ok(mut items) = inbox.items.lock() else {
                return Some(receipt);
            };
            if items.len() >= INBOX_CAPACITY {
                return Some(receipt);
            }
            items.push_back((name, receipt));
        }
        if let Ok(mut waker) = inbox.waker.lock()
            && let Some(w) = waker.take()
        {
            w.wake();
        }
        None
    }

    fn take_inbox(&self, shard: usize, most: usize) -> Vec<(SystemName, PendingReceipt)> {
        let Some(Ok(mut items)) = self.inboxes.get(shard).map(|i| i.items.lock()) else {
            return Vec::new();
        };
        let n = items.len().min(most);
        items.drain(..n).collect()
    }

    fn register_inbox_waker(&self, shard: usize, waker: &Waker) {
        if let Some(Ok(mut slot)) = self.inboxes.get(shard).map(|i| i.waker.lock()) {
            *slot = Some(waker.clone());
        }
    }
}

/// A bound connection as the shard sees it.
#[derive(Debug)]
struct ConnEntry {
    /// The system_id's index once bound.
    system: Option<u32>,
    can_receive: bool,
    /// Receipts routed to this bind (its own submissions).
    ready: VecDeque<Slot>,
    waker: Option<Waker>,
}

/// A system_id's binds on this shard and the receipts any of its receivers may take.
#[derive(Debug)]
struct System {
    name: SystemName,
    receivers: Vec<u64>,
    ready: VecDeque<Slot>,
}

/// The shard's mutable state.
#[derive(Debug)]
pub struct ShardState {
    /// This shard's number.
    pub index: usize,
    /// The simulator's settings.
    pub config: Arc<SimConfig>,
    /// Counters.
    pub stats: Arc<ShardStats>,
    /// Shared with the other shards.
    pub global: Arc<Global>,
    /// Receipts owed.
    pub store: ReceiptStore,
    /// Traffic mix decisions.
    pub rng: Rng,
    next_id: u64,
    next_conn: u64,
    conns: HashMap<u64, ConnEntry>,
    systems: Vec<System>,
    system_index: HashMap<SystemName, u32>,
    timer_waker: Option<Waker>,
    armed_at: Option<Instant>,
    /// Set once the shard stops; connections disconnect.
    pub stopping: bool,
    /// Live connections (bound or not).
    pub live_conns: usize,
}

impl ShardState {
    /// A fresh shard.
    pub fn new(
        index: usize,
        config: Arc<SimConfig>,
        stats: Arc<ShardStats>,
        global: Arc<Global>,
    ) -> ShardState {
        ShardState {
            index,
            store: ReceiptStore::new(config.receipt_queue),
            rng: Rng::new(config.seed ^ (index as u64).wrapping_mul(0x9E37_79B9)),
            config,
            stats,
            global,
            next_id: 1,
            next_conn: 1,
            conns: HashMap::new(),
            systems: Vec::new(),
            system_index: HashMap::new(),
            timer_waker: None,
            armed_at: None,
            stopping: false,
            live_conns: 0,
        }
    }

    /// A new message id, unique across shards (the shard number in the top bits).
    pub fn next_message_id(&mut self) -> u64 {
        let id = ((self.index as u64) << 48) | (self.next_id & 0xFFFF_FFFF_FFFF);
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// A key for a new connection.
    pub fn new_conn_key(&mut self) -> u64 {
        let key = self.next_conn;
        self.next_conn += 1;
        key
    }

    fn system_for(&mut self, name: &str) -> u32 {
        if let Some(&index) = self.system_index.get(name) {
            return index;
        }
        let name: SystemName = Arc::from(name);
        let index = self.systems.len() as u32;
        self.systems.push(System {
            name: Arc::clone(&name),
            receivers: Vec::new(),
            ready: VecDeque::new(),
        });
        self.system_index.insert(name, index);
        index
    }

    /// Records a new connection (not bound yet).
    pub fn open(&mut self, key: u64) {
        self.live_conns += 1;
        self.conns.insert(
            key,
            ConnEntry {
                system: None,
                can_receive: false,
                ready: VecDeque::new(),
                waker: None,
            },
        );
    }

    /// Records a bind; returns the system's index.
    pub fn register(&mut self, key: u64, system_id: &str, can_receive: bool) -> u32 {
        let system = self.system_for(system_id);
        if let Some(entry) = self.conns.get_mut(&key) {
            entry.system = Some(system);
            entry.can_receive = can_receive;
        }
        if can_receive && let Some(s) = self.systems.get_mut(system as usize) {
            s.receivers.push(key);
            let name = Arc::clone(&s.name);
            self.global.count_receiver(&name, self.index, true);
        }
        system
    }

    /// Forgets a connection; receipts routed to it go back to its system's queue.
    pub fn close(&mut self, key: u64) {
        let Some(entry) = self.conns.remove(&key) else {
            return;
        };
        self.live_conns = self.live_conns.saturating_sub(1);
        let Some(system) = entry.system else {
            return;
        };
        if let Some(s) = self.systems.get_mut(system as usize) {
            if entry.can_receive {
                s.receivers.retain(|&k| k != key);
                let name = Arc::clone(&s.name);
                self.global.count_receiver(&name, self.index, false);
            }
            s.ready.extend(entry.ready);
        }
        self.wake_receivers(system);
    }

    /// Remembers the waker of a connection.
    pub fn set_conn_waker(&mut self, key: u64, waker: &Waker) {
        if let Some(entry) = self.conns.get_mut(&key)
            && !entry.waker.as_ref().is_some_and(|w| w.will_wake(waker))
        {
            entry.waker = Some(waker.clone());
        }
    }

    /// Makes `slot` due at `due`, waking the timer task if it sleeps past it.
    pub fn schedule(&mut self, slot: Slot, due: Instant) {
        self.store.schedule(slot, due);
        if self.armed_at.is_none_or(|at| due < at) {
            self.armed_at = Some(due);
            if let Some(w) = self.timer_waker.take() {
                w.wake();
            }
        }
    }

    /// Sends a receipt to its origin bind if that can receive, else to its system.
    pub fn route(&mut self, slot: Slot) {
        let Some(receipt) = self.store.get(slot) else {
            return;
        };
        let (origin, system) = (receipt.origin, receipt.system);
        if let Some(conn) = self.conns.get_mut(&origin).filter(|c| c.can_receive) {
            conn.ready.push_back(slot);
            if let Some(w) = &conn.waker {
                w.wake_by_ref();
            }
            return;
        }
        self.route_to_system(system, slot);
    }

    /// Queues `slot` for any receiver of `system`, here or on another shard.
    pub fn route_to_system(&mut self, system: u32, slot: Slot) {
        let Some(s) = self.systems.get_mut(system as usize) else {
            self.store.remove(slot);
            return;
        };
        if s.receivers.is_empty() {
            let name = Arc::clone(&s.name);
            if let Some(shard) = self.global.shard_with_receiver(&name, self.index)
                && let Some(receipt) = self.store.remove(slot)
            {
                // The other shard may be saturated: then keep it here and retry later.
                if let Some(refused) = self.global.forward(shard, name, receipt)
                    && let Some(again) = self.store.insert(refused)
                {
                    self.push_ready(system, again);
                }
                return;
            }
        }
        self.push_ready(system, slot);
    }

    fn push_ready(&mut self, system: u32, slot: Slot) {
        if let Some(s) = self.systems.get_mut(system as usize) {
            let was_empty = s.ready.is_empty();
            s.ready.push_back(slot);
            if was_empty {
                self.wake_receivers(system);
            }
        }
    }

    fn wake_receivers(&self, system: u32) {
        let Some(s) = self.systems.get(system as usize) else {
            return;
        };
        for key in &s.receivers {
            if let Some(w) = self.conns.get(key).and_then(|c| c.waker.as_ref()) {
                w.wake_by_ref();
            }
        }
    }

    /// The next receipt for connection `key` to send: its own first, then its system's.
    pub fn next_ready(&mut self, key: u64) -> Option<Slot> {
        let conn = self.conns.get_mut(&key)?;
        if let Some(slot) = conn.ready.pop_front() {
            return Some(slot);
        }
        let system = conn.system?;
        self.systems.get_mut(system as usize)?.ready.pop_front()
    }

    /// Puts a receipt that could not be sent now back at the head of the line.
    pub fn unpop_ready(&mut self, key: u64, slot: Slot) {
        if let Some(conn) = self.conns.get_mut(&key) {
            conn.ready.push_front(slot);
        }
    }

    /// Moves due receipts to their binds and takes receipts from other shards.
    pub fn release_due(&mut self, now: Instant) {
        while let Some(slot) = self.store.pop_due(now) {
            self.route(slot);
        }
        let free = self.store.capacity() - self.store.len();
        for (name, receipt) in self.global.take_inbox(self.index, free) {
            let system = self.system_for(&name);
            let receipt = PendingReceipt { system, ..receipt };
            if let Some(slot) = self.store.insert(receipt) {
                self.push_ready(system, slot);
            }
        }
        self.note_held();
    }

    /// Publishes how many receipts the store holds.
    pub fn note_held(&self) {
        self.stats.receipts_held.store(
            self.store.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Routes again receipts held for systems without a receiver here (another shard
    /// may have one now); true if any remain held.
    pub fn retry_held(&mut self) -> bool {
        let mut held = false;
        for system in 0..self.systems.len() as u32 {
            let Some(s) = self.systems.get_mut(system as usize) else {
                continue;
            };
            if !s.receivers.is_empty() || s.ready.is_empty() {
                continue;
            }
            let waiting: Vec<Slot> = s.ready.drain(..).collect();
            for slot in waiting {
                self.route_to_system(system, slot);
            }
            held |= self
                .systems
                .get(system as usize)
                .is_some_and(|s| !s.ready.is_empty());
        }
        held
    }

    /// The timer task parks until `at` (or a wake).
    pub fn park_timer(&mut self, waker: &Waker, at: Option<Instant>) {
        self.timer_waker = Some(waker.clone());
        self.armed_at = at;
        self.global.register_inbox_waker(self.index, waker);
    }

    /// Wakes every connection (on stop).
    pub fn wake_all(&self) {
        for conn in self.conns.values() {
            if let Some(w) = &conn.waker {
                w.wake_by_ref();
            }
        }
    }
}
