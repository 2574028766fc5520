//! Bench suite: SMSC simulator and load generators.
