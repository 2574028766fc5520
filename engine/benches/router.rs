//! `route_mt` over 10,000 MT routes: the per-message cost of routing.
//!
//! `cargo bench -p tern-engine --bench router -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tern_engine::config::{Config, ConnectorConfig, MtRouteConfig, Secret, UserConfig};
use tern_engine::router::{MtQuery, RouterSnapshot};
use tern_engine::users::UserId;

const ROUTES: usize = 10_000;
const USERS: usize = 16;
const CONNECTORS: usize = 32;

/// A small deterministic generator (xorshift64), so every run routes the same table.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn digits(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// 10,000 routes of 4–8 digit prefixes; one in eight limited to a user, one in eight to a
/// source prefix; a catch-all route last.
fn table(rng: &mut Rng) -> Config {
    let mut config = Config {
        users: (0..USERS)
            .map(|i| UserConfig {
                name: format!("u{i}"),
                password_hash: Some(String::new()),
                ..UserConfig::default()
            })
            .collect(),
        connectors: (0..CONNECTORS)
            .map(|i| ConnectorConfig {
                name: format!("c{i}"),
                password: Secret::new("p"),
                ..ConnectorConfig::default()
            })
            .collect(),
        ..Config::default()
    };
    for i in 0..ROUTES {
        let len = 4 + rng.below(5);
        let mut route = MtRouteConfig {
            destination_prefixes: vec![rng.digits(len)],
            connectors: vec![
                format!("c{}", i % CONNECTORS),
                format!("c{}", (i + 1) % CONNECTORS),
            ],
            ..MtRouteConfig::default()
        };
        match i % 8 {
            0 => route.users = vec![format!("u{}", rng.below(USERS))],
            1 => route.source_prefixes = vec![rng.digits(2)],
            _ => {}
        }
        config.routes.mt.push(route);
    }
    config.routes.mt.push(MtRouteConfig {
        destination_prefixes: vec![String::new()],
        connectors: vec!["c0".into()],
        ..MtRouteConfig::default()
    });
    config
}

fn bench_router(c: &mut Criterion) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let config = table(&mut rng);
    let router = RouterSnapshot::build(&config).expect("router builds");
    // Destinations that extend a configured prefix (a specific route matches) ...
    let hits: Vec<String> = (0..1024)
        .map(|_| {
            let route = &config.routes.mt[rng.below(ROUTES)];
            let prefix = &route.destination_prefixes[0];
            format!("+{prefix}{}", rng.digits(12 - prefix.len().min(11)))
        })
        .collect();
    // ... and random ones, most of which fall through to the catch-all.
    let randoms: Vec<String> = (0..1024).map(|_| format!("+{}", rng.digits(12))).collect();
    let sources: Vec<String> = (0..1024).map(|_| rng.digits(11)).collect();

    let mut group = c.benchmark_group("router");
    for (name, destinations) in [("route_mt_hit", &hits), ("route_mt_random", &randoms)] {
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let query = MtQuery {
                    user: UserId((i % USERS) as u32),
                    source: &sources[i],
                    destination: &destinations[i],
                };
                black_box(router.route_mt(black_box(&query)).map(|r| r.position()))
            })
        });
    }
    group.bench_function("build_10k_routes", |b| {
        b.iter(|| RouterSnapshot::build(black_box(&config)).map(|r| r.trie_bytes()))
    });
    group.finish();
    println!("trie bytes for {ROUTES} routes: {}", router.trie_bytes());
}

criterion_group!(benches, bench_router);
criterion_main!(benches);
