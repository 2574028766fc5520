//! The router: longest prefix with user and source conditions, ties by order, failover,
//! MO routing, and atomic snapshot swaps.

use proptest::prelude::*;
use tern_engine::config::{
    Config, ConfigHandle, ConnectorConfig, MoRouteConfig, MtRouteConfig, Secret, UserConfig,
};
use tern_engine::router::{ConnectorId, MtQuery, RouterSnapshot, normalise_address};
use tern_engine::users::UserId;

/// A fixed argon2 hash, so building users costs no hashing.
const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$uN6E+YDYfXWLBQrJbbBU/Q$0Hb4XKu8CrYGLdlpDspTC4zhKLqg1uJFYHuF9BiMmEI";

fn user(name: &str) -> UserConfig {
    UserConfig {
        name: name.into(),
        password_hash: Some(PHC.into()),
        ..UserConfig::default()
    }
}

fn connector(name: &str) -> ConnectorConfig {
    ConnectorConfig {
        name: name.into(),
        host: "127.0.0.1".into(),
        port: 2775,
        system_id: "t".into(),
        password: Secret::new("p"),
        ..ConnectorConfig::default()
    }
}

fn mt(prefixes: &[&str], connectors: &[&str]) -> MtRouteConfig {
    MtRouteConfig {
        destination_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        connectors: connectors.iter().map(|c| c.to_string()).collect(),
        ..MtRouteConfig::default()
    }
}

/// Users u0..u2, connectors c0..c3, and the given routes.
fn config(mt_routes: Vec<MtRouteConfig>, mo_routes: Vec<MoRouteConfig>) -> Config {
    let mut config = Config {
        users: ["u0", "u1", "u2"].map(user).to_vec(),
        connectors: ["c0", "c1", "c2", "c3"].map(connector).to_vec(),
        ..Config::default()
    };
    config.routes.mt = mt_routes;
    config.routes.mo = mo_routes;
    config
        .validate("test")
        .expect("test configuration is valid");
    config
}

fn router(mt_routes: Vec<MtRouteConfig>) -> RouterSnapshot {
    RouterSnapshot::build(&config(mt_routes, Vec::new())).expect("router builds")
}

/// The position of the route chosen for (user, source, destination).
fn pick(router: &RouterSnapshot, user: u32, source: &str, destination: &str) -> Option<usize> {
    let query = MtQuery {
        user: UserId(user),
        source,
        destination,
    };
    router.route_mt(&query).map(|r| r.position())
}

#[test]
fn longest_destination_prefix_wins_whatever_the_order() {
    let r = router(vec![
        mt(&[""], &["c0"]),
        mt(&["44"], &["c1"]),
        mt(&["4477"], &["c2"]),
        mt(&["447"], &["c3"]),
    ]);
    assert_eq!(pick(&r, 0, "1", "447712345678"), Some(2));
    assert_eq!(pick(&r, 0, "1", "447812345678"), Some(3));
    assert_eq!(pick(&r, 0, "1", "441234"), Some(1));
    assert_eq!(pick(&r, 0, "1", "33123"), Some(0));
}

#[test]
fn user_condition_limits_a_route_to_its_users() {
    let mut vip = mt(&["44"], &["c1"]);
    vip.users = vec!["u1".into(), "u2".into()];
    let r = router(vec![mt(&["4"], &["c0"]), vip]);
    assert_eq!(pick(&r, 1, "x", "4412"), Some(1));
    assert_eq!(pick(&r, 2, "x", "4412"), Some(1));
    assert_eq!(
        pick(&r, 0, "x", "4412"),
        Some(0),
        "u0 falls back to the shorter prefix"
    );
}

#[test]
fn source_condition_matches_numbers_and_sender_ids_by_prefix() {
    let mut bank = mt(&["44"], &["c1"]);
    bank.source_prefixes = vec!["BANK".into(), "+4420".into()];
    let r = router(vec![bank, mt(&["44"], &["c0"])]);
    assert_eq!(pick(&r, 0, "BANKX", "4412"), Some(0));
    assert_eq!(
        pick(&r, 0, "00442012", "4412"),
        Some(0),
        "00 and + normalise alike"
    );
    assert_eq!(
        pick(&r, 0, "bank", "4412"),
        Some(1),
        "sender ids are case-sensitive"
    );
    assert_eq!(pick(&r, 0, "4430", "4412"), Some(1));
}

#[test]
fn equal_prefixes_go_to_the_first_route_in_configuration_order() {
    let r = router(vec![
        mt(&["44"], &["c2"]),
        mt(&["44", "33"], &["c1"]),
        mt(&["33"], &["c0"]),
    ]);
    assert_eq!(pick(&r, 0, "", "4412"), Some(0));
    assert_eq!(pick(&r, 0, "", "3312"), Some(1));
}

#[test]
fn failover_list_keeps_its_configured_order() {
    let r = router(vec![mt(&[""], &["c2", "c0", "c3"])]);
    let query = MtQuery {
        user: UserId(0),
        source: "",
        destination: "1",
    };
    let route = r.route_mt(&query).expect("route");
    assert_eq!(
        route.connectors(),
        &[ConnectorId(2), ConnectorId(0), ConnectorId(3)]
    );
}

#[test]
fn no_matching_route_gives_none() {
    let mut only_u1 = mt(&[""], &["c0"]);
    only_u1.users = vec!["u1".into()];
    let r = router(vec![mt(&["44"], &["c0"]), only_u1]);
    assert_eq!(pick(&r, 0, "", "3312"), None);
    assert_eq!(pick(&r, 0, "", ""), None);
    assert_eq!(
        router(Vec::new()).route_mt(&MtQuery {
            user: UserId(0),
            source: "",
            destination: "44",
        }),
        None
    );
}

#[test]
fn plus_and_double_zero_are_the_same_international_number() {
    let r = router(vec![mt(&["+44"], &["c0"]), mt(&["0033"], &["c1"])]);
    for destination in ["447700", "+447700", "00447700"] {
        assert_eq!(pick(&r, 0, "", destination), Some(0), "{destination}");
    }
    assert_eq!(pick(&r, 0, "", "+3361"), Some(1));
    assert_eq!(
        normalise_address("0612"),
        "0612",
        "a national number is left alone"
    );
}

#[test]
fn destination_with_letters_or_too_many_digits_still_routes_safely() {
    let r = router(vec![mt(&[""], &["c0"]), mt(&["44"], &["c1"])]);
    assert_eq!(pick(&r, 0, "", "44abc"), Some(1));
    assert_eq!(pick(&r, 0, "", "abc"), Some(0));
    assert_eq!(pick(&r, 0, "", &"4".repeat(200)), Some(1));
}

#[test]
fn mo_routes_by_longest_destination_prefix() {
    let mo = |prefixes: &[&str], user: &str| MoRouteConfig {
        destination_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        user: user.into(),
    };
    let config = config(
        Vec::new(),
        vec![mo(&["123"], "u0"), mo(&["1234"], "u1"), mo(&["9"], "u2")],
    );
    let r = RouterSnapshot::build(&config).expect("router");
    assert_eq!(r.route_mo("12345"), Some(UserId(1)));
    assert_eq!(r.route_mo("1239"), Some(UserId(0)));
    assert_eq!(r.route_mo("+9"), Some(UserId(2)));
    assert_eq!(r.route_mo("5"), None);
}

#[test]
fn build_refuses_unvalidated_references_instead_of_panicking() {
    let mut config = config(Vec::new(), Vec::new());
    config.routes.mt.push(mt(&["1"], &["nope"]));
    assert!(RouterSnapshot::build(&config).is_err());
    config.routes.mt = vec![mt(&["1x"], &["c0"])];
    assert!(RouterSnapshot::build(&config).is_err());
    config.routes.mt = vec![mt(&["1"], &[])];
    assert!(RouterSnapshot::build(&config).is_err());
}

#[test]
fn a_snapshot_held_across_a_reload_keeps_routing_as_before() {
    let before = config(vec![mt(&[""], &["c0"])], Vec::new());
    let handle = ConfigHandle::new(before.clone()).expect("first snapshot");
    let mut cache = handle.cache();
    let held = handle.load();
    assert_eq!(held.generation, 1);
    assert_eq!(cache.load().generation, 1);

    let mut after = before.clone();
    after.routes.mt = vec![mt(&[""], &["c3", "c1"])];
    assert_eq!(handle.reload(after).expect("valid reload"), 2);

    let query = MtQuery {
        user: UserId(0),
        source: "",
        destination: "4412",
    };
    let old = held.router.route_mt(&query).expect("old route");
    assert_eq!(
        old.connectors(),
        &[ConnectorId(0)],
        "in-flight work keeps its snapshot"
    );
    let fresh = handle.load();
    assert_eq!(fresh.generation, 2);
    let new = fresh.router.route_mt(&query).expect("new route");
    assert_eq!(new.connectors(), &[ConnectorId(3), ConnectorId(1)]);
    assert_eq!(
        cache.load().generation,
        2,
        "a shard's cache sees the reload"
    );
}

#[test]
fn a_refused_reload_leaves_the_live_snapshot_in_place() {
    let good = config(vec![mt(&[""], &["c0"])], Vec::new());
    let handle = ConfigHandle::new(good.clone()).expect("first snapshot");
    let mut bad = good;
    bad.routes.mt = vec![mt(&[""], &["missing"])];
    assert!(handle.reload(bad).is_err());
    assert_eq!(handle.load().generation, 1);
    assert_eq!(handle.load().router.mt_routes().len(), 1);
}

/// A route for the model: destination prefixes, users (empty = any), sources (empty = any).
#[derive(Debug, Clone)]
struct ModelRoute {
    destinations: Vec<String>,
    users: Vec<u32>,
    sources: Vec<String>,
}

/// The definition, written as plainly as possible: among matching routes, the longest
/// matching destination prefix; on a tie, the first route.
fn model(routes: &[ModelRoute], user: u32, source: &str, destination: &str) -> Option<usize> {
    let source = normalise_address(source);
    let destination = normalise_address(destination);
    let mut best: Option<(usize, usize)> = None;
    for (position, route) in routes.iter().enumerate() {
        let user_ok = route.users.is_empty() || route.users.contains(&user);
        let source_ok = route.sources.is_empty()
            || route.sources.iter().any(|p| source.starts_with(p.as_str()));
        let longest = route
            .destinations
            .iter()
            .map(|p| normalise_address(p))
            .filter(|p| destination.starts_with(p))
            .map(str::len)
            .max();
        if let (true, true, Some(len)) = (user_ok, source_ok, longest)
            && best.is_none_or(|(best_len, _)| len > best_len)
        {
            best = Some((len, position));
        }
    }
    best.map(|(_, position)| position)
}

fn digits(max_len: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof!["1", "2", "3"], 0..=max_len).prop_map(|d| d.concat())
}

fn model_route() -> impl Strategy<Value = ModelRoute> {
    (
        proptest::collection::hash_set(digits(4), 1..4),
        proptest::collection::btree_set(0u32..3, 0..3),
        proptest::collection::hash_set(digits(2).prop_filter("non-empty", |s| !s.is_empty()), 0..3),
    )
        .prop_map(|(destinations, users, sources)| ModelRoute {
            destinations: destinations.into_iter().collect(),
            users: users.into_iter().collect(),
            sources: sources.into_iter().collect(),
        })
}

fn to_config(routes: &[ModelRoute]) -> Config {
    let mt_routes = routes
        .iter()
        .enumerate()
        .map(|(i, r)| MtRouteConfig {
            destination_prefixes: r.destinations.clone(),
            source_prefixes: r.sources.clone(),
            users: r.users.iter().map(|u| format!("u{u}")).collect(),
            connectors: vec![format!("c{}", i % 4)],
        })
        .collect();
    config(mt_routes, Vec::new())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn route_mt_agrees_with_a_linear_scan(
        routes in proptest::collection::vec(model_route(), 0..12),
        queries in proptest::collection::vec((0u32..3, digits(3), digits(6)), 1..16),
    ) {
        let router = RouterSnapshot::build(&to_config(&routes)).expect("router builds");
        for (user, source, destination) in &queries {
            let expected = model(&routes, *user, source, destination);
            prop_assert_eq!(pick(&router, *user, source, destination), expected);
        }
    }
}
