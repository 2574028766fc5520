//! The live configuration: an immutable snapshot swapped atomically on reload.
//!
//! Shards read the current [`Snapshot`] once per batch through a [`SnapshotCache`] (an
//! `arc_swap::Cache`: one atomic load and a pointer compare while nothing changed, no
//! reference-count traffic shared between cores). A reload builds the whole new snapshot
//! (validation, password hashing, routing tries) off to the side and then stores it in one
//! atomic swap; whoever holds the old `Arc<Snapshot>` keeps using it untouched until it
//! lets go, so a message routed under the old table is never re-routed half-way, and
//! nothing waits for the reload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Cache};

use super::{Config, ConfigError};
use crate::router::{RouterError, RouterSnapshot};
use crate::users::{Users, UsersError};

/// One consistent view of the configuration and everything built from it.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one at each successful reload; the first snapshot is 1.
    pub generation: u64,
    /// The validated configuration.
    pub config: Config,
    /// Its users, with hashed passwords.
    pub users: Users,
    /// Its routing table.
    pub router: RouterSnapshot,
}

/// Why a configuration could not become the live one; the live one is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The configuration does not validate.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Its users could not be built.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// Its routing table could not be built.
    #[error(transparent)]
    Router(#[from] RouterError),
}

impl Snapshot {
    /// Validates `config` and builds its users and routes.
    pub fn build(config: Config, generation: u64) -> Result<Snapshot, SnapshotError> {
        config.validate("configuration")?;
        let users = Users::build(&config)?;
        let router = RouterSnapshot::build(&config)?;
        Ok(Snapshot {
            generation,
            config,
            users,
            router,
        })
    }
}

/// Holds the live [`Snapshot`]; clones share it.
#[derive(Debug, Clone)]
pub struct ConfigHandle {
    current: Arc<ArcSwap<Snapshot>>,
    generation: Arc<AtomicU64>,
    /// Serialises reloads so that generations are stored in order.
    reloading: Arc<Mutex<()>>,
}

impl ConfigHandle {
    /// A handle whose first snapshot (generation 1) is built from `config`.
    pub fn new(config: Config) -> Result<Self, SnapshotError> {
        let first = Snapshot::build(config, 1)?;
        Ok(Self {
            current: Arc::new(ArcSwap::from_pointee(first)),
            generation: Arc::new(AtomicU64::new(1)),
            reloading: Arc::new(Mutex::new(())),
        })
    }

    /// The live snapshot; hold it for as long as one unit of work needs a stable view.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// A per-shard reader that makes repeated loads nearly free.
    pub fn cache(&self) -> SnapshotCache {
        SnapshotCache {
            inner: Cache::new(Arc::clone(&self.current)),
        }
    }

    /// Builds a snapshot from `config` and makes it the live one; returns its generation.
    /// On error the live snapshot is unchanged.
    pub fn reload(&self, config: Config) -> Result<u64, SnapshotError> {
        // A poisoned lock only means an earlier reload panicked; the snapshot is intact.
        let _serialised = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let next = Snapshot::build(config, generation)?;
        self.current.store(Arc::new(next));
        self.generation.store(generation, Ordering::Release);
        Ok(generation)
    }
}

/// A shard's cached view of the live snapshot.
pub struct SnapshotCache {
    inner: Cache<Arc<ArcSwap<Snapshot>>, Arc<Snapshot>>,
}

impl SnapshotCache {
    /// The live snapshot, refreshed only when a reload stored a new one.
    pub fn load(&mut self) -> &Arc<Snapshot> {
        self.inner.load()
    }
}

impl std::fmt::Debug for SnapshotCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotCache").finish_non_exhaustive()
    }
}
