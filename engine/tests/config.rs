//! Configuration files: every error names its line, the example and the demo are valid.

use tern_engine::config::{
    Config, ConfigError, Dcs0, IdFormat, NationalTable, ReceiptFormat, Secret,
};

/// A small valid file that the error tests below spoil one line at a time.
const BASE: &str = r#"[node]
data_dir = "/var/lib/tern"

[smpp]
listen = "0.0.0.0:2775"
window_size = 32

[[users]]
name = "acme"
password = "pw"

[[connectors]]
name = "a"
host = "10.0.0.1"
port = 2775
system_id = "tern"
password = "x"

[[routes.mt]]
destination_prefixes = ["44"]
connectors = ["a"]
"#;

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "tern.toml").map(|loaded| loaded.config)
}

/// The error's text, which must name the file and `line N`.
fn error_text(text: &str) -> String {
    let error = load(text).expect_err("configuration must be refused");
    let message = error.to_string();
    assert!(message.starts_with("tern.toml: "), "{message}");
    message
}

fn assert_line(message: &str, line: usize) {
    let expected = format!("line {line},");
    assert!(
        message.contains(&expected),
        "expected {expected} in: {message}"
    );
}

#[test]
fn base_file_is_valid() {
    let config = load(BASE).expect("valid");
    assert_eq!(config.smpp.window_size, 32);
    assert_eq!(config.connectors.len(), 1);
}

#[test]
fn unknown_field_names_its_line_and_the_expected_fields() {
    let text = BASE.replace("window_size = 32", "windw_size = 32");
    let message = error_text(&text);
    assert_line(&message, 6);
    assert!(message.contains("unknown field `windw_size`"), "{message}");
    assert!(message.contains("window_size"), "{message}");
}

#[test]
fn wrong_type_names_its_line() {
    let text = BASE.replace("window_size = 32", "window_size = \"32\"");
    let message = error_text(&text);
    assert_line(&message, 6);
    assert!(message.contains("expected u32"), "{message}");
}

#[test]
fn bad_listen_address_names_its_line() {
    let text = BASE.replace("0.0.0.0:2775", "0.0.0.0");
    let message = error_text(&text);
    assert_line(&message, 5);
    assert!(message.contains("socket address"), "{message}");
}

#[test]
fn bad_connector_host_names_its_line() {
    let text = BASE.replace("host = \"10.0.0.1\"", "host = \"smsc a\"");
    let message = error_text(&text);
    assert_line(&message, 14);
    assert!(message.contains("connectors[0].host"), "{message}");
}

#[test]
fn route_to_unknown_connector_names_the_route_line() {
    let text = BASE.replace("connectors = [\"a\"]", "connectors = [\"a\", \"b\"]");
    let message = error_text(&text);
    assert_line(&message, 21);
    assert!(
        message.contains("routes.mt[0].connectors[1]: unknown connector `b`"),
        "{message}"
    );
}

#[test]
fn route_to_unknown_user_names_the_route_line() {
    let text = format!("{BASE}users = [\"nobody\"]\n");
    let message = error_text(&text);
    assert_line(&message, 22);
    assert!(message.contains("unknown user `nobody`"), "{message}");
}

#[test]
fn duplicate_user_names_the_second_definition() {
    let text = format!("{BASE}\n[[users]]\nname = \"acme\"\npassword = \"pw2\"\n");
    let message = error_text(&text);
    assert_line(&message, 24);
    assert!(
        message.contains("duplicate name `acme` (also users[0])"),
        "{message}"
    );
}

#[test]
fn out_of_bounds_window_names_its_line() {
    let text = BASE.replace("window_size = 32", "window_size = 1025");
    let message = error_text(&text);
    assert_line(&message, 6);
    assert!(
        message.contains("smpp.window_size: 1025 is out of range 1..=1024"),
        "{message}"
    );
}

#[test]
fn overlong_overload_pause_names_its_line() {
    let text = BASE.replace(
        "window_size = 32",
        "window_size = 32\noverload_pause_ms = 5000",
    );
    let message = error_text(&text);
    assert_line(&message, 7);
    assert!(
        message.contains("smpp.overload_pause_ms: 5000 is out of range 0..=1000"),
        "{message}"
    );
}

#[test]
fn wal_segment_size_out_of_bounds_or_unaligned_names_the_field() {
    let small = BASE.replace(
        "data_dir = \"/var/lib/tern\"",
        "data_dir = \"/var/lib/tern\"\nwal_segment_bytes = 4096",
    );
    let message = error_text(&small);
    assert_line(&message, 3);
    assert!(
        message.contains("node.wal_segment_bytes: 4096 is out of range 262144..=1073741824"),
        "{message}"
    );
    let unaligned = BASE.replace(
        "data_dir = \"/var/lib/tern\"",
        "data_dir = \"/var/lib/tern\"\nwal_segment_bytes = 1000000",
    );
    let message = error_text(&unaligned);
    assert!(
        message.contains("node.wal_segment_bytes: 1000000 is not a multiple of 4096"),
        "{message}"
    );
}

#[test]
fn smallest_wal_segment_opens_a_log_that_takes_the_largest_engine_record() {
    let mut config = load(BASE).expect("valid");
    config.node.wal_segment_bytes = tern_engine::config::bounds::WAL_SEGMENT_BYTES_MIN;
    let wal_config = config.node.wal_config();
    wal_config
        .validate()
        .expect("the WAL takes the configuration");
    assert!(wal_config.max_record_bytes >= largest_engine_record_bytes());
}

/// The largest payload the engine appends: an Accepted record of 255 full parts with every
/// optional field at its bound, or an MO record with the most TLVs.
fn largest_engine_record_bytes() -> usize {
    use std::borrow::Cow;
    use tern_engine::message::{
        Address, CALLBACK_MAX_LEN, CLIENT_REF_MAX_LEN, ConnectorId, Content,
        IDEMPOTENCY_KEY_MAX_LEN, MO_TLVS_MAX_LEN, MessageId, MessageRecord, MoRecord, PARTS_MAX,
        PASSTHROUGH_TLVS_MAX_LEN, ROUTE_CONNECTORS_MAX, Route, SHORT_MESSAGE_MAX_LEN, SessionKind,
        SplitParts, UserId,
    };
    use tern_smpp::limits::{ADDRESS_MAX_LEN, SERVICE_TYPE_MAX_LEN};
    use tern_smpp::{EsmClass, RegisteredDelivery};
    let part = [b'x'; SHORT_MESSAGE_MAX_LEN];
    let parts = vec![&part[..]; PARTS_MAX];
    let address = || Address {
        ton: 1,
        npi: 1,
        digits: Cow::Owned(vec![b'1'; ADDRESS_MAX_LEN]),
    };
    let accepted = MessageRecord {
        id: MessageId::new(0, 1).expect("id"),
        user: UserId(0),
        session: SessionKind::Http,
        accepted_at_ms: 1,
        validity_deadline_ms: 2,
        schedule_at_ms: Some(3),
        source: address(),
        destination: address(),
        esm_class: EsmClass(0),
        protocol_id: 0,
        priority: 0,
        registered_delivery: RegisteredDelivery(1),
        data_coding: 0,
        service_type: Cow::Owned(vec![b's'; SERVICE_TYPE_MAX_LEN]),
        client_ref: Cow::Owned(vec![b'r'; CLIENT_REF_MAX_LEN]),
        route: Route::new(&[ConnectorId(0); ROUTE_CONNECTORS_MAX]).expect("route"),
        content: Content::Split(SplitParts::new(Some(1), &parts).expect("parts")),
        tlvs: Cow::Owned(vec![0; PASSTHROUGH_TLVS_MAX_LEN]),
        callback: Cow::Owned(vec![b'c'; CALLBACK_MAX_LEN]),
        idempotency_key: Cow::Owned(vec![b'k'; IDEMPOTENCY_KEY_MAX_LEN]),
    };
    let mut accepted_bytes = Vec::new();
    accepted.encode(&mut accepted_bytes).expect("encodes");
    let mo = MoRecord {
        id: MessageId::new(0, 1).expect("id"),
        user: UserId(0),
        connector: ConnectorId(0),
        received_at_ms: 1,
        source_ton: 1,
        source_npi: 1,
        source: vec![b'1'; 64],
        dest_ton: 1,
        dest_npi: 1,
        destination: vec![b'1'; 64],
        service_type: vec![b's'; 32],
        esm_class: 0,
        protocol_id: 0,
        priority: 0,
        data_coding: 0,
        short_message: part.to_vec(),
        tlvs: vec![0; MO_TLVS_MAX_LEN],
    };
    let mut mo_bytes = Vec::new();
    mo.encode(&mut mo_bytes).expect("encodes");
    accepted_bytes.len().max(mo_bytes.len())
}

#[test]
fn zero_window_on_a_connector_names_its_line() {
    let text = BASE.replace("password = \"x\"", "password = \"x\"\nwindow_size = 0");
    let message = error_text(&text);
    assert_line(&message, 18);
    assert!(message.contains("connectors[0].window_size"), "{message}");
}

#[test]
fn missing_required_value_names_the_table_header() {
    let text = BASE.replace("password = \"pw\"\n", "");
    let message = error_text(&text);
    assert_line(&message, 8);
    assert!(
        message.contains("password_hash (or password) is required"),
        "{message}"
    );
}

#[test]
fn bad_destination_prefix_names_its_line() {
    let text = BASE.replace("[\"44\"]", "[\"44\", \"4x\"]");
    let message = error_text(&text);
    assert_line(&message, 20);
    assert!(
        message.contains("`4x` is not a destination prefix"),
        "{message}"
    );
}

#[test]
fn bad_password_hash_names_its_line() {
    let text = BASE.replace("password = \"pw\"", "password_hash = \"md5:abc\"");
    let message = error_text(&text);
    assert_line(&message, 10);
    assert!(message.contains("users[0].password_hash"), "{message}");
}

#[test]
fn toml_syntax_error_names_its_line() {
    let text = BASE.replace("name = \"a\"", "name = \"a");
    let message = error_text(&text);
    assert_line(&message, 13);
}

#[test]
fn unknown_enum_value_names_its_line() {
    let text = format!("{BASE}\n[connectors.quirks]\ndcs0 = \"ebcdic\"\n");
    let message = error_text(&text);
    assert_line(&message, 24);
    assert!(message.contains("unknown variant `ebcdic`"), "{message}");
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let text = BASE
        .replace("window_size = 32", "window_size = 0")
        .replace("connectors = [\"a\"]", "connectors = [\"zz\"]");
    let error = load(&text).expect_err("refused");
    let diagnostics = error.diagnostics();
    assert_eq!(diagnostics.len(), 2, "{error}");
    let lines: Vec<_> = diagnostics
        .iter()
        .filter_map(|d| d.location.map(|l| l.line))
        .collect();
    assert_eq!(lines, vec![6, 21]);
    assert_eq!(error.to_string().lines().count(), 2);
}

#[test]
fn plain_password_is_accepted_with_a_warning_naming_its_line() {
    let loaded = Config::from_toml(BASE, "tern.toml").expect("valid");
    let warning = loaded
        .warnings
        .iter()
        .find(|w| w.message.contains("plain-text password"))
        .expect("a warning");
    assert_eq!(warning.location.map(|l| l.line), Some(10));
}

#[test]
fn empty_file_is_valid_and_warns_that_nothing_can_be_routed() {
    let loaded = Config::from_toml("", "empty.toml").expect("defaults are valid");
    assert_eq!(loaded.config, Config::default());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("no MT route"))
    );
}

#[test]
fn example_file_parses_and_validates() {
    let text = include_str!("../tern.example.toml");
    let loaded = Config::from_toml(text, "tern.example.toml").expect("example is valid");
    let config = loaded.config;
    assert_eq!(config.node.shards, Some(2));
    assert_eq!(config.users.len(), 2);
    let quirks = &config.connectors[0].quirks;
    assert_eq!(quirks.submit_resp_id, IdFormat::Hex);
    assert_eq!(quirks.receipt_id, IdFormat::Decimal);
    assert_eq!(quirks.dcs0, Dcs0::Gsm7);
    assert_eq!(quirks.receipt_format, ReceiptFormat::Standard);
    assert_eq!(quirks.national_tables, vec![NationalTable::Turkish]);
    assert_eq!(config.connectors[1].host, "2001:db8::7");
    assert_eq!(config.routes.mt[0].connectors, vec!["smsc-a", "smsc-b"]);
    assert_eq!(
        loaded.warnings.len(),
        1,
        "only the plain password: {:?}",
        loaded.warnings
    );
}

#[test]
fn example_file_documents_every_field() {
    let example: toml::Table = toml::from_str(include_str!("../tern.example.toml")).expect("toml");
    let mut full = Config::demo();
    full.node.shards = Some(1);
    full.users[0].password_hash = Some(String::new());
    full.users[0].receipts_pending_max = Some(1);
    full.users[0].tokens = vec![Secret::new("0123456789abcdef")];
    full.users[0].mo_url = Some("http://example.com/mo".into());
    full.http.callback_signing_key = Some(Secret::new("0123456789abcdef"));
    full.connectors[0].queue_depth_max = Some(1);
    full.connectors[0].quirks.national_tables = vec![NationalTable::Turkish];
    full.routes.mt[0].source_prefixes = vec!["x".into()];
    full.routes.mt[0].users = vec!["demo".into()];
    full.routes.mo.push(Default::default());
    let every_field: toml::Table =
        toml::from_str(&toml::to_string(&full).expect("serialise")).expect("toml");
    let mut missing = Vec::new();
    missing_keys(&every_field, &example, "", &mut missing);
    assert!(missing.is_empty(), "tern.example.toml lacks {missing:?}");
}

/// Keys of `full` absent from `example`; for arrays of tables, any element may have them.
fn missing_keys(full: &toml::Table, example: &toml::Table, at: &str, missing: &mut Vec<String>) {
    for (key, value) in full {
        let path = format!("{at}{key}");
        let Some(found) = example.get(key) else {
            missing.push(path);
            continue;
        };
        match (value, found) {
            (toml::Value::Table(inner), toml::Value::Table(example_inner)) => {
                missing_keys(inner, example_inner, &format!("{path}."), missing);
            }
            (toml::Value::Array(items), toml::Value::Array(example_items)) => {
                let union: toml::Table = example_items
                    .iter()
                    .filter_map(toml::Value::as_table)
                    .flat_map(|t| t.clone())
                    .collect();
                for item in items.iter().filter_map(toml::Value::as_table) {
                    missing_keys(item, &union, &format!("{path}[]."), missing);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn password_is_not_printed_by_debug() {
    let config = load(BASE).expect("valid");
    let printed = format!("{config:?}");
    assert!(!printed.contains("password: Some(\"pw\")"), "{printed}");
    assert!(printed.contains("***"));
}

#[test]
fn demo_config_validates() {
    let demo = Config::demo();
    let warnings = demo.validate("demo").expect("demo is valid");
    assert!(
        warnings
            .iter()
            .all(|w| w.message.contains("plain-text password"))
    );
    assert_eq!(demo.smpp.listen.to_string(), "127.0.0.1:2775");
    assert_eq!(demo.http.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(demo.users[0].name, "demo");
    assert_eq!(
        demo.users[0].password.as_ref().map(|p| p.expose()),
        Some("demo")
    );
    assert_eq!(demo.connectors[0].name, "sim");
    assert!(demo.connectors[0].simulator);
    assert_eq!(demo.routes.mt[0].destination_prefixes, vec![""]);
    assert_eq!(demo.node.data_dir, std::path::Path::new("./tern-data"));
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, BASE.replace("window_size = 32", "window_size = 0")).expect("write");
    let message = Config::load(&path).expect_err("refused").to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert_line(&message, 6);
    let absent = Config::load(&dir.path().join("absent.toml")).expect_err("absent");
    assert!(matches!(absent, ConfigError::Read { .. }));
}

#[test]
fn simulator_connector_needs_no_address() {
    let text = "[[connectors]]\nname = \"sim\"\nsimulator = true\n";
    let config = load(text).expect("valid");
    assert!(config.connectors[0].simulator);
    let real = load("[[connectors]]\nname = \"real\"\n").expect_err("needs host, port, system_id");
    assert_eq!(real.diagnostics().len(), 3, "{real}");
}

#[test]
fn backoff_max_below_min_is_refused() {
    let text = BASE.replace(
        "password = \"x\"",
        "password = \"x\"\nreconnect_backoff_min_ms = 1000\nreconnect_backoff_max_ms = 10",
    );
    let message = error_text(&text);
    assert_line(&message, 19);
    assert!(message.contains("reconnect_backoff_max_ms"), "{message}");
}

#[test]
fn http_and_smpp_on_the_same_address_is_refused() {
    let text = "[smpp]\nlisten = \"127.0.0.1:9000\"\n[http]\nlisten = \"127.0.0.1:9000\"\n";
    let message = error_text(text);
    assert_line(&message, 4);
}

#[test]
fn address_clash_points_at_whichever_listen_is_written() {
    let message = error_text("\n[smpp]\nlisten = \"127.0.0.1:8080\"\n");
    assert_line(&message, 3);
    assert!(
        message.contains("http.listen: 127.0.0.1:8080 is also smpp.listen"),
        "{message}"
    );
}

#[test]
fn example_users_can_log_in_with_their_documented_passwords() {
    let text = include_str!("../tern.example.toml");
    let config = Config::from_toml(text, "tern.example.toml")
        .expect("valid")
        .config;
    let users = tern_engine::users::Users::build(&config).expect("users build");
    let acme = users
        .lookup("acme")
        .and_then(|id| users.get(id))
        .expect("acme");
    assert!(
        acme.verify_password(b"secret"),
        "the comment says the hash is of `secret`"
    );
    let tester = users
        .lookup("tester")
        .and_then(|id| users.get(id))
        .expect("tester");
    assert!(tester.verify_password(b"changeme"));
}
