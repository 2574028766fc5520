//! What a reload (SIGHUP) may change in a running node, and how the new configuration is
//! lined up with the live one.
//!
//! # Design
//! Messages in flight, open sessions, queues and metrics refer to users and connectors by
//! their position in the live configuration (a record holds connector ids by position, a
//! session its [`crate::users::UserId`]). A reload must therefore never move anything:
//! - **Connectors** keep their order and names. Adding, removing, renaming or reordering
//!   one, or changing how it binds (address, credentials, bind kind and count, timers), is
//!   refused: it needs a restart. Live: `tps_max`, `window_size`, `queue_depth_max`,
//!   `message_payload`, `split_udh` and the `quirks`. A bind reads them at its next
//!   submit turn; a larger `window_size` than the one it bound with is reached when it
//!   next reconnects (the session's window is fixed at bind), a smaller one at once.
//! - **Users** are matched by name: a user of the live configuration keeps its position
//!   (with the new file's settings), a new one is appended, and one the new file no longer
//!   has stays at its position `retired` (no login, no token; its sessions keep running
//!   until they unbind, its receipts are still delivered to them). A retired user named
//!   again by a later reload comes back at its old position. Per-user structures of the
//!   shards (outbox, token bucket, metrics, mesh counters) are sized at start for
//!   [`USERS_ADDED_BY_RELOAD_MAX`] more users than configured; a reload beyond that is
//!   refused (restart).
//! - **Routes** (MT and MO) change freely: a message keeps the route it was accepted with.
//! - Everything read only at start is refused with the list of the fields: `node.*`,
//!   `smpp.*`, `http.*`, and the `limits` other than `queue_depth_max`,
//!   `receipts_pending_max` and `message_ttl_s`.
//!
//! A connector served by the embedded simulator had its `host` and `port` filled in at
//! start; the new file leaves them out, so they are carried over rather than seen as a
//! change.

use std::fmt::Debug;

use super::{
    Config, ConnectorConfig, HttpConfig, LimitsConfig, NodeConfig, SmppConfig, UserConfig,
};

/// Users a running node can take on through reloads beyond those it started with (users
/// removed by a reload keep their position until the restart, so they count too).
pub const USERS_ADDED_BY_RELOAD_MAX: usize = 1_024;

/// Why a reload was refused; the live configuration stays in force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    /// Settings that are read only at start changed.
    #[error("these settings need a restart, reload refused: {}", .fields.join(", "))]
    RestartNeeded {
        /// The changed fields, by path (`connectors[0].host`).
        fields: Vec<String>,
    },
    /// More user positions than the node was sized for.
    #[error(
        "{users} user positions (removed users keep theirs until a restart) exceed the \
         {max} this process was sized for: restart to add more"
    )]
    TooManyUsers {
        /// Positions the reload needs.
        users: usize,
        /// Positions the running node has.
        max: usize,
    },
}

/// A new configuration lined up with the live one, ready to become the next snapshot.
#[derive(Debug, Clone)]
pub struct ReloadPlan {
    /// The configuration to publish: users at stable positions, simulator addresses kept.
    pub config: Config,
    /// Users the reload adds (or brings back).
    pub users_added: Vec<String>,
    /// Users the reload retires.
    pub users_retired: Vec<String>,
}

/// Lines `next` up with `live` (the configuration in force) for a node that has room for
/// `users_max` user positions; refuses a change that needs a restart.
pub fn plan_reload(
    live: &Config,
    mut next: Config,
    users_max: usize,
) -> Result<ReloadPlan, ReloadError> {
    carry_simulator_addresses(live, &mut next);
    let fields = restart_fields(live, &next);
    if !fields.is_empty() {
        return Err(ReloadError::RestartNeeded { fields });
    }
    let (users, users_added, users_retired) = line_up_users(&live.users, next.users);
    if users.len() > users_max {
        return Err(ReloadError::TooManyUsers {
            users: users.len(),
            max: users_max,
        });
    }
    next.users = users;
    Ok(ReloadPlan {
        config: next,
        users_added,
        users_retired,
    })
}

fn carry_simulator_addresses(live: &Config, next: &mut Config) {
    for (old, new) in live.connectors.iter().zip(next.connectors.iter_mut()) {
        if old.simulator && new.simulator && old.name == new.name {
            new.host.clone_from(&old.host);
            new.port = old.port;
        }
    }
}

/// Pushes `prefix.field` for each named field that differs between `$a` and `$b`.
macro_rules! changed {
    ($out:expr, $prefix:expr, $a:expr, $b:expr, [$($field:ident),+ $(,)?]) => {
        $(
            if $a.$field != $b.$field {
                $out.push(format!("{}.{}", $prefix, stringify!($field)));
            }
        )+
    };
}

/// The fields read only at start that differ, by path.
fn restart_fields(live: &Config, next: &Config) -> Vec<String> {
    let mut out = Vec::new();
    node_fields(&live.node, &next.node, &mut out);
    smpp_fields(&live.smpp, &next.smpp, &mut out);
    http_fields(&live.http, &next.http, &mut out);
    limits_fields(&live.limits, &next.limits, &mut out);
    connector_fields(&live.connectors, &next.connectors, &mut out);
    out
}

/// Adds `section` when the sections differ but no named field was found: a field added
/// to the section later is then refused (safe) until it is sorted into live or restart.
fn section_fallback<T: PartialEq + Debug>(
    section: &str,
    a: &T,
    b: &T,
    before: usize,
    out: &mut Vec<String>,
) {
    if a != b && out.len() == before {
        out.push(section.to_owned());
    }
}

fn node_fields(a: &NodeConfig, b: &NodeConfig, out: &mut Vec<String>) {
    let before = out.len();
    changed!(out, "node", a, b, [data_dir, shards, wal_segment_bytes]);
    section_fallback("node", a, b, before, out);
}

fn smpp_fields(a: &SmppConfig, b: &SmppConfig, out: &mut Vec<String>) {
    let before = out.len();
    changed!(
        out,
        "smpp",
        a,
        b,
        [
            listen,
            window_size,
            enquire_link_interval_s,
            inactivity_timeout_s,
            response_timeout_ms,
            pdu_bytes_max,
            overload_pause_ms,
        ]
    );
    section_fallback("smpp", a, b, before, out);
}

fn http_fields(a: &HttpConfig, b: &HttpConfig, out: &mut Vec<String>) {
    let before = out.len();
    changed!(
        out,
        "http",
        a,
        b,
        [
            listen,
            body_bytes_max,
            batch_max,
            connections_max,
            callback_signing_key,
            callback_retry_for_s,
            callback_backoff_min_ms,
            callback_backoff_max_ms,
            callback_timeout_ms,
            callback_per_host_max,
            callback_queue_max,
            status_history_max,
            idempotency_keys_max,
        ]
    );
    section_fallback("http", a, b, before, out);
}

fn limits_fields(a: &LimitsConfig, b: &LimitsConfig, out: &mut Vec<String>) {
    let before = out.len();
    changed!(
        out,
        "limits",
        a,
        b,
        [
            receipts_parked_max,
            messages_held_max,
            messages_park_after_ms,
            messages_parked_max,
            dlr_hot_bytes_max,
            dlr_hot_generations_max,
            dlr_generation_span_ms,
            dlr_hot_horizon_ms,
            dlr_disk_bytes_max,
            sessions_max,
            auth_cache_entries_max,
            auth_cache_ttl_s,
        ]
    );
    let live_only = |l: &LimitsConfig| LimitsConfig {
        queue_depth_max: 0,
        receipts_pending_max: 0,
        message_ttl_s: 0,
        ..l.clone()
    };
    section_fallback("limits", &live_only(a), &live_only(b), before, out);
}

fn connector_fields(a: &[ConnectorConfig], b: &[ConnectorConfig], out: &mut Vec<String>) {
    let names = |list: &[ConnectorConfig]| list.iter().map(|c| c.name.clone()).collect();
    let (live, next): (Vec<String>, Vec<String>) = (names(a), names(b));
    if live != next {
        out.push(format!(
            "connectors (added, removed, renamed or reordered: {live:?} -> {next:?})"
        ));
        return;
    }
    for (i, (a, b)) in a.iter().zip(b).enumerate() {
        let before = out.len();
        let prefix = format!("connectors[{i}]");
        changed!(
            out,
            prefix,
            a,
            b,
            [
                kind,
                simulator,
                host,
                port,
                system_id,
                password,
                system_type,
                bind,
                binds,
                enquire_link_interval_s,
                response_timeout_ms,
                reconnect_backoff_min_ms,
                reconnect_backoff_max_ms,
            ]
        );
        let bind_settings = |c: &ConnectorConfig| ConnectorConfig {
            tps_max: 0,
            window_size: 0,
            queue_depth_max: None,
            message_payload: Default::default(),
            split_udh: Default::default(),
            quirks: Default::default(),
            ..c.clone()
        };
        section_fallback(&prefix, &bind_settings(a), &bind_settings(b), before, out);
    }
}

/// The users of `next` at stable positions: those of `live` where they were (retired when
/// `next` lacks them), then the new ones in file order. Returns the list, the names added
/// and the names retired.
fn line_up_users(
    live: &[UserConfig],
    next: Vec<UserConfig>,
) -> (Vec<UserConfig>, Vec<String>, Vec<String>) {
    let mut slots: Vec<Option<UserConfig>> = live.iter().map(|_| None).collect();
    let mut appended = Vec::new();
    let mut added = Vec::new();
    for user in next {
        match live.iter().position(|u| u.name == user.name) {
            Some(i) => {
                if live.get(i).is_some_and(|u| u.retired) {
                    added.push(user.name.clone());
                }
                if let Some(slot) = slots.get_mut(i) {
                    *slot = Some(user);
                }
            }
            None => {
                added.push(user.name.clone());
                appended.push(user);
            }
        }
    }
    let mut retired = Vec::new();
    let mut users: Vec<UserConfig> = live
        .iter()
        .zip(slots)
        .map(|(old, new)| {
            new.unwrap_or_else(|| {
                if !old.retired {
                    retired.push(old.name.clone());
                }
                UserConfig {
                    retired: true,
                    // Its tokens may now belong to another user; it needs none.
                    tokens: Vec::new(),
                    ..old.clone()
                }
            })
        })
        .collect();
    users.extend(appended);
    (users, added, retired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MtRouteConfig, Secret};

    fn user(name: &str) -> UserConfig {
        UserConfig {
            name: name.into(),
            password: Some(Secret::new("pw")),
            ..UserConfig::default()
        }
    }

    fn connector(name: &str) -> ConnectorConfig {
        ConnectorConfig {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: 2775,
            system_id: "t".into(),
            ..ConnectorConfig::default()
        }
    }

    fn config(users: &[&str], connectors: &[&str]) -> Config {
        Config {
            users: users.iter().map(|n| user(n)).collect(),
            connectors: connectors.iter().map(|n| connector(n)).collect(),
            ..Config::default()
        }
    }

    #[test]
    fn users_keep_their_positions_new_ones_are_appended_removed_ones_retired() {
        let live = config(&["a", "b", "c"], &["x"]);
        let next = config(&["c", "d", "a"], &["x"]);
        let plan = plan_reload(&live, next, 10).expect("reload allowed");
        let names: Vec<_> = plan.config.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        let retired: Vec<_> = plan.config.users.iter().map(|u| u.retired).collect();
        assert_eq!(retired, [false, true, false, false]);
        assert_eq!(plan.users_added, ["d"]);
        assert_eq!(plan.users_retired, ["b"]);
    }

    #[test]
    fn a_retired_user_named_again_comes_back_at_its_old_position() {
        let live = config(&["a", "b"], &["x"]);
        let first = plan_reload(&live, config(&["a"], &["x"]), 10).expect("first");
        let second = plan_reload(&first.config, config(&["b", "a"], &["x"]), 10).expect("second");
        let users = &second.config.users;
        assert_eq!((users[1].name.as_str(), users[1].retired), ("b", false));
        assert_eq!(second.users_added, ["b"]);
        assert!(second.users_retired.is_empty());
    }

    #[test]
    fn more_user_positions_than_the_node_was_sized_for_are_refused() {
        let live = config(&["a"], &["x"]);
        let refused = plan_reload(&live, config(&["b", "c"], &["x"]), 2);
        assert_eq!(
            refused.map(|_| ()),
            Err(ReloadError::TooManyUsers { users: 3, max: 2 })
        );
    }

    #[test]
    fn a_renamed_or_added_connector_needs_a_restart() {
        let live = config(&["a"], &["x", "y"]);
        for next in [&["x", "z"][..], &["x", "y", "z"], &["y", "x"], &["x"]] {
            let refused = plan_reload(&live, config(&["a"], next), 10);
            let Err(ReloadError::RestartNeeded { fields }) = refused else {
                panic!("{next:?} must be refused");
            };
            assert!(fields[0].starts_with("connectors"), "{fields:?}");
        }
    }

    #[test]
    fn bind_and_listen_settings_are_listed_by_path_when_refused() {
        let live = config(&["a"], &["x"]);
        let mut next = live.clone();
        next.connectors[0].host = "10.0.0.1".into();
        next.connectors[0].binds = 3;
        next.smpp.listen = "127.0.0.1:9999".parse().expect("addr");
        next.node.shards = Some(4);
        next.limits.sessions_max = 7;
        let Err(ReloadError::RestartNeeded { fields }) = plan_reload(&live, next, 10) else {
            panic!("must be refused");
        };
        assert_eq!(
            fields,
            [
                "node.shards",
                "smpp.listen",
                "limits.sessions_max",
                "connectors[0].host",
                "connectors[0].binds",
            ]
        );
    }

    #[test]
    fn routes_users_and_connector_throughput_change_live() {
        let live = config(&["a"], &["x", "y"]);
        let mut next = config(&["a", "b"], &["x", "y"]);
        next.routes.mt.push(MtRouteConfig {
            destination_prefixes: vec!["44".into()],
            connectors: vec!["y".into()],
            ..MtRouteConfig::default()
        });
        next.users[0].tps_max = 5;
        next.connectors[1].tps_max = 7;
        next.connectors[1].window_size = 3;
        next.connectors[1].quirks.gsm7_packed = true;
        next.connectors[1].split_udh = crate::config::SplitConcat::Sar;
        next.limits.queue_depth_max = 9;
        let plan = plan_reload(&live, next.clone(), 10).expect("live changes");
        assert_eq!(plan.config, next);
    }

    #[test]
    fn a_simulator_connector_keeps_the_address_filled_in_at_start() {
        let mut live = config(&["a"], &["sim"]);
        live.connectors[0].simulator = true;
        live.connectors[0].port = 40_001;
        let mut next = live.clone();
        next.connectors[0].host = String::new();
        next.connectors[0].port = 0;
        let plan = plan_reload(&live, next, 10).expect("same simulator");
        assert_eq!(plan.config.connectors[0].port, 40_001);
    }
}
