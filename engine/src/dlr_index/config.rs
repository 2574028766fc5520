//! Bounds and time horizons of one index instance.

use thiserror::Error;

use super::park::PARKED_MAX_LIMIT;
use super::table::Table;

const MINUTE_MS: u64 = 60_000;

/// Smallest generation table, in home slots: below this the overflow tail dominates.
pub const GENERATION_HOME_SLOTS_MIN: usize = 1024;

/// Configuration of one index instance (one per shard). Every bound the index can grow to is
/// here: the RAM it can use is `hot_bytes_max`, plus about 60 B per parked receipt
/// (`parked_max`), plus 1.53 B per entry on disk for filters and fences (`disk_bytes_max / 16`
/// entries at most).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlrIndexConfig {
    /// Bytes of RAM all hot generation tables together may hold (including those being
    /// written as runs).
    pub hot_bytes_max: usize,
    /// Generation tables the hot budget is split into; each holds `hot_bytes_max / this`.
    pub hot_generations_max: usize,
    /// Least time an entry stays in RAM before its generation is offered for flushing
    /// (unless the budget forces it out earlier).
    pub hot_horizon_ms: u64,
    /// Longest time one generation collects inserts before it is sealed; runs cover at most
    /// this much time, so there are about `ttl_ms / generation_span_ms` of them.
    pub generation_span_ms: u64,
    /// Least time an entry is kept (the message validity period); it is gone at the latest
    /// `generation_span_ms` later, when its generation or run is dropped whole.
    pub ttl_ms: u64,
    /// Bytes of run files kept on disk; past it the oldest run is dropped early (counted).
    pub disk_bytes_max: u64,
    /// Early receipts parked at most at once; beyond it `lookup_or_park` refuses.
    pub parked_max: usize,
    /// How long an early receipt waits for its submit_sm_resp before it is released as
    /// unmatched.
    pub park_timeout_ms: u64,
}

impl Default for DlrIndexConfig {
    fn default() -> Self {
        Self {
            hot_bytes_max: 128 << 20,
            hot_generations_max: 16,
            hot_horizon_ms: 15 * MINUTE_MS,
            generation_span_ms: 15 * MINUTE_MS / 2,
            ttl_ms: 48 * 60 * MINUTE_MS,
            disk_bytes_max: 1 << 30,
            parked_max: 65_536,
            park_timeout_ms: 10_000,
        }
    }
}

/// A configuration that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// Fewer than two generations: the index could not seal one while filling another.
    #[error("hot_generations_max is {generations}, at least 2 are needed")]
    TooFewGenerations {
        /// Value given.
        generations: usize,
    },
    /// The hot budget split into generations leaves each too small.
    #[error("hot_bytes_max {hot_bytes_max} gives generations under {min_bytes} bytes")]
    HotBudgetTooSmall {
        /// Value given.
        hot_bytes_max: usize,
        /// Smallest budget per generation.
        min_bytes: usize,
    },
    /// A duration is zero or the durations are out of order.
    #[error("need 0 < generation_span_ms <= hot_horizon_ms <= ttl_ms and park_timeout_ms > 0")]
    DurationsOutOfOrder,
    /// `parked_max` exceeds what the park's 32-bit links address.
    #[error("parked_max {parked_max} exceeds {PARKED_MAX_LIMIT}")]
    ParkTooLarge {
        /// Value given.
        parked_max: usize,
    },
}

impl DlrIndexConfig {
    /// Checks the bounds fit together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.hot_generations_max < 2 {
            return Err(ConfigError::TooFewGenerations {
                generations: self.hot_generations_max,
            });
        }
        let min_bytes = Table::bytes_for(GENERATION_HOME_SLOTS_MIN);
        if self.generation_home_slots() < GENERATION_HOME_SLOTS_MIN {
            return Err(ConfigError::HotBudgetTooSmall {
                hot_bytes_max: self.hot_bytes_max,
                min_bytes,
            });
        }
        let spans_ordered = 0 < self.generation_span_ms
            && self.generation_span_ms <= self.hot_horizon_ms
            && self.hot_horizon_ms <= self.ttl_ms;
        if !spans_ordered || self.park_timeout_ms == 0 {
            return Err(ConfigError::DurationsOutOfOrder);
        }
        if self.parked_max > PARKED_MAX_LIMIT {
            return Err(ConfigError::ParkTooLarge {
                parked_max: self.parked_max,
            });
        }
        Ok(())
    }

    /// Home slots of each generation table: the largest count whose table fits in
    /// `hot_bytes_max / hot_generations_max`.
    pub fn generation_home_slots(&self) -> usize {
        let per_generation = self.hot_bytes_max / self.hot_generations_max.max(1);
        let mut home_slots = per_generation / 16;
        while home_slots > 0 && Table::bytes_for(home_slots) > per_generation {
            home_slots -= Table::overflow_slots(home_slots).min(home_slots);
        }
        home_slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(DlrIndexConfig::default().validate(), Ok(()));
    }

    #[test]
    fn generations_fit_in_the_hot_budget() {
        for hot_bytes_max in [1 << 20, 3 << 20, 128 << 20, 1000 * 1000] {
            let config = DlrIndexConfig {
                hot_bytes_max,
                ..DlrIndexConfig::default()
            };
            let per_table = Table::bytes_for(config.generation_home_slots());
            assert!(per_table * config.hot_generations_max <= hot_bytes_max);
            assert!(per_table * config.hot_generations_max > hot_bytes_max * 9 / 10);
        }
    }

    #[test]
    fn tiny_budget_and_disordered_durations_are_refused() {
        let tiny = DlrIndexConfig {
            hot_bytes_max: 4096,
            ..DlrIndexConfig::default()
        };
        assert!(matches!(
            tiny.validate(),
            Err(ConfigError::HotBudgetTooSmall { .. })
        ));
        let disordered = DlrIndexConfig {
            hot_horizon_ms: 49 * 3_600_000,
            ..DlrIndexConfig::default()
        };
        assert_eq!(disordered.validate(), Err(ConfigError::DurationsOutOfOrder));
        let one = DlrIndexConfig {
            hot_generations_max: 1,
            ..DlrIndexConfig::default()
        };
        assert!(matches!(
            one.validate(),
            Err(ConfigError::TooFewGenerations { generations: 1 })
        ));
    }
}
