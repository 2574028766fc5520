//! Users: hashing, verification, the login cache.

use super::*;
use crate::config::{Secret, UserConfig};

/// The Argon2id hash of `right`, precomputed: Argon2 is slow on purpose, and the tests
/// should spend their time verifying, not hashing.
const RIGHT_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$6tlmCFC6gRbKj1Zcdtz14w$8doUyg00pSRRnGQKxvVrOitR5xdPnVHeIsanT4W9VtI";

/// One user `alice` with password `right`.
fn alice(binds: Vec<BindKind>) -> Users {
    let config = Config {
        users: vec![UserConfig {
            name: "alice".into(),
            password_hash: Some(RIGHT_PHC.into()),
            binds,
            ..UserConfig::default()
        }],
        ..Config::default()
    };
    Users::build(&config).expect("users build")
}

/// `alice` with the plain-text password `right`, hashed at build.
fn plain_alice() -> Users {
    let config = Config {
        users: vec![UserConfig {
            name: "alice".into(),
            password: Some(Secret::new("right")),
            ..UserConfig::default()
        }],
        ..Config::default()
    };
    Users::build(&config).expect("users build")
}

fn login<'a>(name: &'a str, password: &'a str, bind: BindKind) -> Login<'a> {
    Login {
        name,
        password: password.as_bytes(),
        bind,
    }
}

#[test]
fn plain_password_is_hashed_at_build_and_verifies() {
    let users = plain_alice();
    let user = users.get(UserId(0)).expect("alice");
    assert!(
        user.password_phc()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert!(user.verify_password(b"right"));
    assert!(!user.verify_password(b"wrong"));
    assert!(!user.verify_password(b""));
}

#[test]
fn each_hash_gets_its_own_salt() {
    let a = hash_password(b"same").expect("hash");
    let b = hash_password(b"same").expect("hash");
    assert_ne!(a, b);
    assert!(check_phc(&a).is_ok());
}

#[test]
fn authenticate_tells_unknown_user_wrong_password_and_forbidden_bind_apart() {
    let users = alice(vec![BindKind::Tx]);
    let mut cache = AuthCache::new(16, 60).expect("cache");
    let ok = users.authenticate(&mut cache, login("alice", "right", BindKind::Tx), 0);
    assert_eq!(ok, Ok(UserId(0)));
    let unknown = users.authenticate(&mut cache, login("bob", "right", BindKind::Tx), 0);
    assert_eq!(unknown, Err(AuthError::UnknownUser));
    let wrong = users.authenticate(&mut cache, login("alice", "nope", BindKind::Rx), 0);
    assert_eq!(
        wrong,
        Err(AuthError::BadPassword),
        "password is checked before bind kind"
    );
    let rx = users.authenticate(&mut cache, login("alice", "right", BindKind::Rx), 0);
    assert_eq!(rx, Err(AuthError::BindNotAllowed(BindKind::Rx)));
}

#[test]
fn cached_login_skips_argon2_until_it_expires() {
    let users = alice(vec![BindKind::Trx]);
    let user = users.get(UserId(0)).expect("alice");
    let mut cache = AuthCache::new(16, 10).expect("cache");
    assert!(cache.verify(user, b"right", 1_000));
    assert_eq!(cache.argon2_runs(), 1);
    assert!(cache.verify(user, b"right", 10_999));
    assert_eq!(cache.argon2_runs(), 1, "second login came from the cache");
    assert!(cache.verify(user, b"right", 11_000));
    assert_eq!(cache.argon2_runs(), 2, "expired after ttl_s");
}

#[test]
fn failed_logins_are_never_cached() {
    let users = alice(vec![BindKind::Trx]);
    let user = users.get(UserId(0)).expect("alice");
    let mut cache = AuthCache::new(16, 60).expect("cache");
    assert!(!cache.verify(user, b"wrong", 0));
    assert!(!cache.verify(user, b"wrong", 1));
    assert_eq!(cache.argon2_runs(), 2);
    assert!(cache.is_empty());
}

#[test]
fn changed_password_hash_misses_the_cache() {
    let users = plain_alice();
    let user = users.get(UserId(0)).expect("alice");
    let mut cache = AuthCache::new(16, 60).expect("cache");
    assert!(cache.verify(user, b"right", 0));
    // A reload re-hashes the plain password with a new salt: same password, new hash.
    let reloaded = plain_alice();
    let user = reloaded.get(UserId(0)).expect("alice");
    assert!(cache.verify(user, b"right", 1));
    assert_eq!(cache.argon2_runs(), 2);
}

#[test]
fn cache_never_holds_more_than_entries_max() {
    let mut cache = AuthCache::new(3, 60).expect("cache");
    for i in 0..5 {
        let user = User {
            name: format!("u{i}"),
            password_phc: RIGHT_PHC.into(),
            tps_max: 1,
            binds: vec![BindKind::Trx],
            sessions_max: 1,
            receipts_pending_max: 1,
        };
        assert!(cache.verify(&user, b"right", i));
        assert!(cache.len() <= 3);
    }
    assert_eq!(cache.len(), 3);
}

#[test]
fn disabled_cache_always_runs_argon2() {
    let users = alice(vec![BindKind::Trx]);
    let user = users.get(UserId(0)).expect("alice");
    let mut cache = AuthCache::new(0, 60).expect("cache");
    assert!(cache.verify(user, b"right", 0));
    assert!(cache.verify(user, b"right", 0));
    assert_eq!(cache.argon2_runs(), 2);
    assert!(cache.is_empty());
}

#[test]
fn stored_hash_is_used_as_is_and_bad_ones_are_refused() {
    let phc = RIGHT_PHC.to_owned();
    let mut user = UserConfig {
        name: "x".into(),
        password_hash: Some(phc.clone()),
        ..UserConfig::default()
    };
    let config = Config {
        users: vec![user.clone()],
        ..Config::default()
    };
    let users = Users::build(&config).expect("build");
    assert_eq!(
        users.get(UserId(0)).map(User::password_phc),
        Some(phc.as_str())
    );
    user.password_hash = Some("$2b$10$notargon".into());
    let config = Config {
        users: vec![user],
        ..Config::default()
    };
    assert!(matches!(
        Users::build(&config),
        Err(UsersError::BadHash { .. })
    ));
}

#[test]
fn extravagant_argon2_costs_in_a_stored_hash_are_refused() {
    let phc = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wQhN7Wd3Ak8n8Pc4gqVw+Ab6H7mSPyPIv9Bn4mwqU8k";
    let problem = check_phc(phc).expect_err("4 GiB is refused");
    assert!(problem.contains("cost"), "{problem}");
}

#[test]
fn lookup_and_limits_follow_configuration_order() {
    let config = Config {
        users: vec![
            UserConfig {
                name: "a".into(),
                password_hash: Some(RIGHT_PHC.into()),
                receipts_pending_max: Some(7),
                ..UserConfig::default()
            },
            UserConfig {
                name: "b".into(),
                password_hash: Some(RIGHT_PHC.into()),
                ..UserConfig::default()
            },
        ],
        ..Config::default()
    };
    let users = Users::build(&config).expect("build");
    assert_eq!(users.lookup("b"), Some(UserId(1)));
    assert_eq!(users.lookup("c"), None);
    assert_eq!(
        users.get(UserId(0)).map(|u| u.receipts_pending_max),
        Some(7)
    );
    let default_pending = config.limits.receipts_pending_max;
    assert_eq!(
        users.get(UserId(1)).map(|u| u.receipts_pending_max),
        Some(default_pending)
    );
    assert_eq!(users.get(UserId(2)).map(User::name), None);
    assert_eq!(users.len(), 2);
}
