//! `tern run` options: parsing every override and refusing bad ones with clear errors.

use clap::Parser;
use tern_engine::config::{ArgError, BindKind, Config, ConnectorArg, Dcs0, RunArgs, UserArg};

fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
    RunArgs::try_parse_from(std::iter::once("tern-run").chain(args.iter().copied()))
}

fn connector(text: &str) -> Result<ConnectorArg, ArgError> {
    text.parse()
}

#[test]
fn no_options_resolve_to_the_demo() {
    let args = parse(&[]).expect("no options");
    let loaded = args.resolve().expect("demo");
    assert_eq!(loaded.config, Config::demo());
}

#[test]
fn every_scalar_option_overrides_its_field() {
    let args = parse(&[
        "--data-dir",
        "/tmp/t",
        "--smpp-listen",
        "[::1]:2776",
        "--http-listen",
        "127.0.0.1:8081",
        "--shards",
        "3",
    ])
    .expect("valid options");
    let config = args.apply(Config::demo()).expect("valid config");
    assert_eq!(config.node.data_dir, std::path::Path::new("/tmp/t"));
    assert_eq!(config.smpp.listen.to_string(), "[::1]:2776");
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:8081");
    assert_eq!(config.node.shards, Some(3));
}

#[test]
fn config_option_loads_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.toml");
    std::fs::write(&path, "[smpp]\nwindow_size = 7\n").expect("write");
    let path_text = path.to_str().expect("utf-8 path");
    let loaded = parse(&["--config", path_text])
        .expect("parse")
        .resolve()
        .expect("valid");
    assert_eq!(loaded.config.smpp.window_size, 7);
    assert!(loaded.config.users.is_empty());
}

#[test]
fn user_password_is_everything_after_the_first_colon() {
    let user: UserArg = "alice:pa:ss:".parse().expect("valid");
    assert_eq!(user.name, "alice");
    assert_eq!(user.password.expose(), "pa:ss:");
    let empty: UserArg = "bob:"
        .parse()
        .expect("empty password is the user's business");
    assert_eq!(empty.password.expose(), "");
}

#[test]
fn bad_user_values_are_refused() {
    assert_eq!("alice".parse::<UserArg>(), Err(ArgError::UserWithoutColon));
    assert!(matches!(
        ":pw".parse::<UserArg>(),
        Err(ArgError::BadName(_))
    ));
    assert!(matches!(
        "a b:pw".parse::<UserArg>(),
        Err(ArgError::BadName(_))
    ));
}

#[test]
fn repeated_users_add_and_replace() {
    let args = parse(&["--user", "demo:new", "--user", "bob:pw"]).expect("valid");
    let config = args.apply(Config::demo()).expect("valid");
    assert_eq!(config.users.len(), 2);
    assert_eq!(
        config.users[0].password.as_ref().map(|p| p.expose()),
        Some("new")
    );
    assert_eq!(config.users[1].name, "bob");
}

#[test]
fn connector_url_sets_every_field() {
    let c =
        connector("up=smpp://tern:secret@smsc.example.net:2775?binds=4&window=32&tps=250&bind=tx")
            .expect("valid");
    assert_eq!(c.name, "up");
    assert_eq!(c.system_id, "tern");
    assert_eq!(c.password.expose(), "secret");
    assert_eq!((c.host.as_str(), c.port), ("smsc.example.net", 2775));
    assert_eq!(c.binds, Some(4));
    assert_eq!(c.window_size, Some(32));
    assert_eq!(c.tps_max, Some(250));
    assert_eq!(c.bind, Some(BindKind::Tx));
}

#[test]
fn connector_query_is_optional() {
    let c = connector("up=smpp://tern:pw@10.0.0.1:2775").expect("valid");
    assert_eq!(
        (c.binds, c.window_size, c.tps_max, c.bind),
        (None, None, None, None)
    );
}

#[test]
fn percent_encoded_credentials_are_decoded() {
    let c = connector("up=smpp://ter%6E%3Ax:p%40ss%3Aw%25rd%3F@h:1").expect("valid");
    assert_eq!(c.system_id, "tern:x");
    assert_eq!(c.password.expose(), "p@ss:w%rd?");
}

#[test]
fn raw_at_sign_in_password_is_tolerated() {
    let c = connector("up=smpp://tern:p@ss@h:1").expect("the last @ ends the credentials");
    assert_eq!(c.password.expose(), "p@ss");
    assert_eq!(c.host, "h");
}

#[test]
fn ipv6_host_in_brackets() {
    let c = connector("v6=smpp://tern:pw@[::1]:2775?window=8").expect("valid");
    assert_eq!(c.host, "::1");
    assert_eq!(c.port, 2775);
    assert_eq!(c.window_size, Some(8));
}

#[test]
fn bad_urls_are_refused_naming_the_offending_part() {
    let cases: &[(&str, ArgError)] = &[
        ("up", ArgError::ConnectorWithoutEquals),
        ("up=http://a:b@h:1", ArgError::Scheme("http".into())),
        ("up=tern:pw@h:1", ArgError::NotAUrl("tern:pw@h:1".into())),
        ("up=smpp://tern:pw@h", ArgError::MissingPort("h".into())),
        ("up=smpp://tern:pw@h:", ArgError::MissingPort("h".into())),
        (
            "up=smpp://tern:pw@[::1]",
            ArgError::MissingPort("[::1]".into()),
        ),
        ("up=smpp://tern:pw@h:0", ArgError::BadPort("0".into())),
        (
            "up=smpp://tern:pw@h:65536",
            ArgError::BadPort("65536".into()),
        ),
        ("up=smpp://tern:pw@h:x1", ArgError::BadPort("x1".into())),
        ("up=smpp://h:1", ArgError::MissingCredentials),
        ("up=smpp://tern@h:1", ArgError::MissingPassword),
        ("up=smpp://:pw@h:1", ArgError::EmptySystemId),
        ("up=smpp://tern:pw@:1", ArgError::MissingHost),
        (
            "up=smpp://tern:pw@::1:1",
            ArgError::Ipv6WithoutBrackets("::1:1".into()),
        ),
        ("up=smpp://tern:pw@[::g]:1", ArgError::BadIpv6("::g".into())),
        ("up=smpp://tern:pw@h_x:1", ArgError::BadHost("h_x".into())),
        (
            "up=smpp://tern:pw@h:1/x",
            ArgError::UnexpectedPath("/x".into()),
        ),
        (
            "up=smpp://tern:pw@h:1?speed=9",
            ArgError::UnknownKey("speed".into()),
        ),
        (
            "up=smpp://tern:pw@h:1?tps=1&tps=2",
            ArgError::DuplicateKey("tps".into()),
        ),
        (
            "up=smpp://tern:p%zz@h:1",
            ArgError::BadEscape {
                part: "password",
                offset: 1,
            },
        ),
        (
            "up=smpp://t%4:pw@h:1",
            ArgError::BadEscape {
                part: "system_id",
                offset: 1,
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(connector(text).as_ref(), Err(expected), "{text}");
    }
}

#[test]
fn non_numeric_or_out_of_range_query_values_are_refused() {
    let error = connector("up=smpp://t:p@h:1?window=ten").expect_err("not a number");
    assert_eq!(
        error.to_string(),
        "query `window=ten`: expected a number in 1..=1024"
    );
    let error = connector("up=smpp://t:p@h:1?window=0").expect_err("zero");
    assert!(error.to_string().contains("window=0"));
    let error = connector("up=smpp://t:p@h:1?binds=65").expect_err("too many binds");
    assert!(error.to_string().contains("1..=64"));
    let error = connector("up=smpp://t:p@h:1?bind=both").expect_err("bad kind");
    assert!(error.to_string().contains("tx, rx or trx"));
}

#[test]
fn clap_errors_name_the_option_and_never_echo_the_password() {
    let error = parse(&["--connector", "up=smpp://tern:hunter2@h?window=8"]).expect_err("no port");
    let message = error.to_string();
    assert!(message.contains("--connector"), "{message}");
    assert!(message.contains("missing port after host `h`"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    let error = parse(&["--user", "alice"]).expect_err("no colon");
    assert!(error.to_string().contains("--user"), "{error}");
    let error = parse(&["--shards", "0"]).expect_err("zero shards");
    assert!(error.to_string().contains("--shards"), "{error}");
    let error = parse(&["--smpp-listen", "localhost"]).expect_err("not an address");
    assert!(error.to_string().contains("--smpp-listen"), "{error}");
}

#[test]
fn first_connector_becomes_the_default_route_and_others_are_only_available() {
    let args = parse(&[
        "--connector",
        "a=smpp://t:p@10.0.0.1:2775",
        "--connector",
        "b=smpp://t:p@10.0.0.2:2775?bind=rx",
    ])
    .expect("valid");
    let config = args.apply(Config::demo()).expect("valid");
    let names: Vec<_> = config.connectors.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["sim", "a", "b"]);
    assert_eq!(
        config.routes.mt.len(),
        1,
        "the demo's catch-all route was replaced"
    );
    assert_eq!(config.routes.mt[0].destination_prefixes, vec![""]);
    assert_eq!(config.routes.mt[0].connectors, vec!["a"]);
    assert_eq!(config.connectors[2].bind, BindKind::Rx);
}

#[test]
fn default_route_goes_after_configured_prefix_routes() {
    let mut base = Config::demo();
    base.routes.mt[0].destination_prefixes = vec!["44".into()];
    let args = parse(&["--connector", "a=smpp://t:p@h:1"]).expect("valid");
    let config = args.apply(base).expect("valid");
    assert_eq!(config.routes.mt.len(), 2);
    assert_eq!(config.routes.mt[0].connectors, vec!["sim"]);
    assert_eq!(config.routes.mt[1].connectors, vec!["a"]);
}

#[test]
fn connector_of_an_existing_name_is_replaced_keeping_its_quirks() {
    let mut base = Config::demo();
    base.connectors[0].quirks.dcs0 = Dcs0::Latin1;
    base.connectors[0].window_size = 50;
    let args = parse(&["--connector", "sim=smpp://t:p@[2001:db8::1]:2775?tps=9"]).expect("valid");
    let config = args.apply(base).expect("valid");
    let sim = &config.connectors[0];
    assert!(!sim.simulator);
    assert_eq!(
        (sim.host.as_str(), sim.port, sim.tps_max),
        ("2001:db8::1", 2775, 9)
    );
    assert_eq!(sim.window_size, 50, "not given: kept");
    assert_eq!(sim.quirks.dcs0, Dcs0::Latin1);
}

#[test]
fn overrides_are_validated_as_a_whole() {
    let mut base = Config::demo();
    base.smpp.listen = "127.0.0.1:9000".parse().expect("addr");
    let args = parse(&["--http-listen", "127.0.0.1:9000"]).expect("valid option");
    let error = args.apply(base).expect_err("same address twice");
    let message = error.to_string();
    assert!(
        message.starts_with("command line: http.listen"),
        "{message}"
    );
}
