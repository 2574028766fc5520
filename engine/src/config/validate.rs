//! Bounds and cross-reference checks on a parsed [`Config`].
//!
//! Every check records an [`Issue`] naming the field by path and carries on, so an
//! operator sees every problem of a file at once.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::hash::Hash;
use std::net::Ipv6Addr;

use super::bounds::*;
use super::source::{FieldPath, SourceMap};
use super::{Config, ConnectorConfig, Diagnostic, MoRouteConfig, MtRouteConfig, UserConfig};
use crate::router::normalise_address;

/// One problem, by field path.
#[derive(Debug)]
pub(crate) struct Issue {
    path: FieldPath,
    /// Where to point instead when `path` is not written in the file (a cross-field
    /// problem whose first field was left at its default).
    fallback: Option<FieldPath>,
    message: String,
}

impl Issue {
    /// The problem with its line, when `map` knows the field.
    pub(crate) fn into_diagnostic(self, map: Option<&SourceMap<'_>>) -> Diagnostic {
        Diagnostic {
            location: map.and_then(|m| {
                let fallback = self.fallback.as_ref().and_then(|f| m.locate_written(f));
                m.locate_written(&self.path)
                    .or(fallback)
                    .or_else(|| m.locate(&self.path))
            }),
            path: self.path.to_string(),
            message: self.message,
        }
    }
}

/// What validation found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// Problems that refuse the configuration.
    pub(crate) errors: Vec<Issue>,
    /// Problems worth telling the operator about.
    pub(crate) warnings: Vec<Issue>,
}

impl Findings {
    fn error(&mut self, path: FieldPath, message: impl Into<String>) {
        self.errors.push(Issue {
            path,
            fallback: None,
            message: message.into(),
        });
    }

    fn warn(&mut self, path: FieldPath, message: impl Into<String>) {
        self.warnings.push(Issue {
            path,
            fallback: None,
            message: message.into(),
        });
    }

    fn range<T: PartialOrd + Display>(&mut self, path: FieldPath, value: T, min: T, max: T) {
        if value < min || value > max {
            self.error(path, format!("{value} is out of range {min}..={max}"));
        }
    }

    fn count(&mut self, path: FieldPath, len: usize, max: usize) {
        if len > max {
            self.error(path, format!("{len} entries, at most {max} allowed"));
        }
    }
}

/// Runs every check on `config`.
pub(crate) fn check(config: &Config) -> Findings {
    let mut findings = Findings::default();
    let root = FieldPath::root();
    check_node(&mut findings, config, &root);
    check_limits(&mut findings, config, &root.key("limits"));
    check_http(&mut findings, config, &root.key("http"));
    let users = root.key("users");
    findings.count(users.clone(), config.users.len(), ENTRIES_MAX);
    unique_names(&mut findings, &users, config.users.iter().map(|u| &u.name));
    for (i, user) in config.users.iter().enumerate() {
        check_user(&mut findings, user, &users.index(i));
    }
    let connectors = root.key("connectors");
    findings.count(connectors.clone(), config.connectors.len(), ENTRIES_MAX);
    unique_names(
        &mut findings,
        &connectors,
        config.connectors.iter().map(|c| &c.name),
    );
    for (i, connector) in config.connectors.iter().enumerate() {
        check_connector(&mut findings, connector, &connectors.index(i));
    }
    check_routes(&mut findings, config, &root.key("routes"));
    findings
}

fn check_node(findings: &mut Findings, config: &Config, root: &FieldPath) {
    let node = root.key("node");
    if config.node.data_dir.as_os_str().is_empty() {
        findings.error(node.key("data_dir"), "must not be empty");
    }
    if let Some(shards) = config.node.shards {
        findings.range(node.key("shards"), shards, 1, SHARDS_MAX);
    }
    let segment_bytes = config.node.wal_segment_bytes;
    let wal_segment = node.key("wal_segment_bytes");
    if !segment_bytes.is_multiple_of(4096) {
        findings.error(
            wal_segment,
            format!("{segment_bytes} is not a multiple of 4096"),
        );
    } else {
        findings.range(
            wal_segment,
            segment_bytes,
            WAL_SEGMENT_BYTES_MIN,
            WAL_SEGMENT_BYTES_MAX,
        );
    }
    let smpp = root.key("smpp");
    let s = &config.smpp;
    findings.range(smpp.key("window_size"), s.window_size, 1, WINDOW_SIZE_MAX);
    let interval = smpp.key("enquire_link_interval_s");
    findings.range(
        interval,
        s.enquire_link_interval_s,
        1,
        ENQUIRE_LINK_INTERVAL_S_MAX,
    );
    let inactivity = smpp.key("inactivity_timeout_s");
    findings.range(
        inactivity,
        s.inactivity_timeout_s,
        1,
        INACTIVITY_TIMEOUT_S_MAX,
    );
    let timeout = smpp.key("response_timeout_ms");
    let (min, max) = (RESPONSE_TIMEOUT_MS_MIN, RESPONSE_TIMEOUT_MS_MAX);
    findings.range(timeout, s.response_timeout_ms, min, max);
    let pdu = smpp.key("pdu_bytes_max");
    findings.range(pdu, s.pdu_bytes_max, PDU_BYTES_MIN, PDU_BYTES_MAX);
    let pause = smpp.key("overload_pause_ms");
    findings.range(pause, s.overload_pause_ms, 0, OVERLOAD_PAUSE_MS_MAX);
    if config.http.listen == s.listen && s.listen.port() != 0 {
        findings.errors.push(Issue {
            path: root.key("http").key("listen"),
            fallback: Some(smpp.key("listen")),
            message: format!("{} is also smpp.listen", config.http.listen),
        });
    }
}

fn check_limits(findings: &mut Findings, config: &Config, limits: &FieldPath) {
    let l = &config.limits;
    findings.range(
        limits.key("queue_depth_max"),
        l.queue_depth_max,
        1,
        QUEUE_DEPTH_MAX,
    );
    let pending = limits.key("receipts_pending_max");
    findings.range(pending, l.receipts_pending_max, 1, RECEIPTS_PENDING_MAX);
    let parked = limits.key("receipts_parked_max");
    findings.range(parked, l.receipts_parked_max, 1, RECEIPTS_PARKED_MAX);
    let held = limits.key("messages_held_max");
    findings.range(held, l.messages_held_max, 1, MESSAGES_HELD_MAX);
    findings.range(
        limits.key("messages_park_after_ms"),
        l.messages_park_after_ms,
        0,
        MESSAGES_PARK_AFTER_MS_MAX,
    );
    findings.range(
        limits.key("messages_parked_max"),
        l.messages_parked_max,
        0,
        MESSAGES_PARKED_MAX,
    );
    let hot = limits.key("dlr_hot_bytes_max");
    findings.range(
        hot,
        l.dlr_hot_bytes_max,
        DLR_HOT_BYTES_MIN,
        DLR_HOT_BYTES_MAX,
    );
    findings.range(
        limits.key("message_ttl_s"),
        l.message_ttl_s,
        1,
        MESSAGE_TTL_S_MAX,
    );
    check_dlr_tiers(findings, config, limits);
    findings.range(limits.key("sessions_max"), l.sessions_max, 1, SESSIONS_MAX);
    let entries = limits.key("auth_cache_entries_max");
    findings.range(entries, l.auth_cache_entries_max, 1, AUTH_CACHE_ENTRIES_MAX);
    let ttl = limits.key("auth_cache_ttl_s");
    findings.range(ttl, l.auth_cache_ttl_s, 1, AUTH_CACHE_TTL_S_MAX);
}

/// The receipt index's generations and disk tier: bounds, the order of its time
/// horizons (`span <= horizon <= ttl`), and generations large enough for a table.
fn check_dlr_tiers(findings: &mut Findings, config: &Config, limits: &FieldPath) {
    let l = &config.limits;
    let generations = || limits.key("dlr_hot_generations_max");
    findings.range(
        generations(),
        l.dlr_hot_generations_max,
        2,
        DLR_HOT_GENERATIONS_MAX,
    );
    let span = limits.key("dlr_generation_span_ms");
    findings.range(
        span,
        l.dlr_generation_span_ms,
        DLR_SPAN_MS_MIN,
        DLR_SPAN_MS_MAX,
    );
    let horizon = limits.key("dlr_hot_horizon_ms");
    findings.range(
        horizon,
        l.dlr_hot_horizon_ms,
        DLR_SPAN_MS_MIN,
        DLR_SPAN_MS_MAX,
    );
    let disk = limits.key("dlr_disk_bytes_max");
    findings.range(
        disk,
        l.dlr_disk_bytes_max,
        DLR_DISK_BYTES_MIN,
        DLR_DISK_BYTES_MAX,
    );
    if l.dlr_generation_span_ms > l.dlr_hot_horizon_ms {
        let message =
            "longer than dlr_hot_horizon_ms (a generation must be sealed before it is due on disk)";
        findings.error(limits.key("dlr_generation_span_ms"), message);
    }
    if l.dlr_hot_horizon_ms > u64::from(l.message_ttl_s) * 1000 {
        let message = "longer than message_ttl_s (mappings would expire before reaching disk)";
        findings.error(limits.key("dlr_hot_horizon_ms"), message);
    }
    let shards = config.node.shard_count();
    let index = crate::dlr_index::DlrIndexConfig {
        hot_bytes_max: usize::try_from(l.dlr_hot_bytes_per_shard(shards)).unwrap_or(usize::MAX),
        hot_generations_max: l.dlr_hot_generations_max as usize,
        ..crate::dlr_index::DlrIndexConfig::default()
    };
    if (2..=DLR_HOT_GENERATIONS_MAX).contains(&l.dlr_hot_generations_max)
        && index.generation_home_slots() < crate::dlr_index::GENERATION_HOME_SLOTS_MIN
    {
        let per_shard = l.dlr_hot_bytes_per_shard(shards);
        let message = format!(
            "{} generations of a {per_shard}-byte share per shard ({shards} shards) leave \
             each under {} entries; raise dlr_hot_bytes_max or lower this",
            l.dlr_hot_generations_max,
            crate::dlr_index::GENERATION_HOME_SLOTS_MIN
        );
        findings.error(generations(), message);
    }
}

fn check_http(findings: &mut Findings, config: &Config, http: &FieldPath) {
    let h = &config.http;
    let max = HTTP_BODY_BYTES_MAX;
    findings.range(http.key("body_bytes_max"), h.body_bytes_max, 1_024, max);
    findings.range(http.key("batch_max"), h.batch_max, 1, HTTP_BATCH_MAX);
    let connections = http.key("connections_max");
    findings.range(connections, h.connections_max, 1, HTTP_CONNECTIONS_MAX);
    let retry = http.key("callback_retry_for_s");
    findings.range(retry, h.callback_retry_for_s, 1, CALLBACK_RETRY_FOR_S_MAX);
    for (key, value) in [
        ("callback_backoff_min_ms", h.callback_backoff_min_ms),
        ("callback_backoff_max_ms", h.callback_backoff_max_ms),
        ("callback_timeout_ms", h.callback_timeout_ms),
    ] {
        findings.range(http.key(key), value, 1, CALLBACK_MS_MAX);
    }
    if h.callback_backoff_min_ms > h.callback_backoff_max_ms {
        let message = "larger than callback_backoff_max_ms";
        findings.error(http.key("callback_backoff_min_ms"), message);
    }
    let per_host = http.key("callback_per_host_max");
    findings.range(per_host, h.callback_per_host_max, 1, CALLBACK_PER_HOST_MAX);
    let queue = http.key("callback_queue_max");
    findings.range(queue, h.callback_queue_max, 1, CALLBACK_QUEUE_MAX);
    let history = http.key("status_history_max");
    findings.range(history, h.status_history_max, 0, STATUS_HISTORY_MAX);
    let keys = http.key("idempotency_keys_max");
    findings.range(keys, h.idempotency_keys_max, 0, IDEMPOTENCY_KEYS_MAX);
    if let Some(key) = &h.callback_signing_key
        && key.expose().len() < TOKEN_BYTES_MIN
    {
        let message = format!("shorter than {TOKEN_BYTES_MIN} bytes");
        findings.error(http.key("callback_signing_key"), message);
    }
}

/// Records an error on the second and later uses of each name.
fn unique_names<'a>(
    findings: &mut Findings,
    list: &FieldPath,
    names: impl Iterator<Item = &'a String>,
) {
    let mut first_use: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.enumerate() {
        let first = *first_use.entry(name).or_insert(i);
        if first != i {
            let message = format!("duplicate name `{name}` (also {list}[{first}])");
            findings.error(list.index(i).key("name"), message);
        }
    }
}

/// Why `name` cannot name a user or connector, if it cannot.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a name is required".into());
    }
    if name.len() > NAME_BYTES_MAX {
        return Some(format!("`{name}` is longer than {NAME_BYTES_MAX} bytes"));
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Some(format!("`{name}` has a space or a non-ASCII character"));
    }
    None
}

/// Why `url` cannot be an MO callback URL, if it cannot.
fn mo_url_problem(url: &str) -> Option<String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Some("must start with http:// or https://".into());
    }
    let max = tern_http::callback::MAX_URL_OCTETS;
    (url.len() > max).then(|| format!("{} bytes; at most {max}", url.len()))
}

fn check_user(findings: &mut Findings, user: &UserConfig, path: &FieldPath) {
    if let Some(problem) = name_problem(&user.name) {
        findings.error(path.key("name"), problem);
    }
    match (&user.password_hash, &user.password) {
        (Some(_), Some(_)) => findings.error(
            path.key("password"),
            "give password or password_hash, not both",
        ),
        (None, None) => findings.error(
            path.key("password"),
            "password_hash (or password) is required",
        ),
        (Some(phc), None) => {
            if let Err(problem) = crate::users::check_phc(phc) {
                findings.error(path.key("password_hash"), problem);
            }
        }
        (None, Some(plain)) => {
            let message = "plain-text password; store password_hash instead (tern hash-password)";
            findings.warn(path.key("password"), message);
            if plain.expose().len() > PASSWORD_BYTES_MAX {
                let message = format!("longer than {PASSWORD_BYTES_MAX} bytes");
                findings.error(path.key("password"), message);
            }
        }
    }
    findings.range(path.key("tps_max"), user.tps_max, 1, TPS_MAX);
    findings.range(path.key("sessions_max"), user.sessions_max, 1, SESSIONS_MAX);
    if let Some(pending) = user.receipts_pending_max {
        let key = path.key("receipts_pending_max");
        findings.range(key, pending, 1, RECEIPTS_PENDING_MAX);
    }
    findings.count(path.key("tokens"), user.tokens.len(), TOKENS_MAX);
    for (i, token) in user.tokens.iter().enumerate() {
        let len = token.expose().len();
        if !(TOKEN_BYTES_MIN..=TOKEN_BYTES_MAX).contains(&len) {
            let message = format!("{len} bytes; {TOKEN_BYTES_MIN} to {TOKEN_BYTES_MAX} allowed");
            findings.error(path.key("tokens").index(i), message);
        }
    }
    if let Some(problem) = user.mo_url.as_deref().and_then(mo_url_problem) {
        findings.error(path.key("mo_url"), problem);
    }
    if user.binds.is_empty() {
        findings.error(path.key("binds"), "at least one bind kind is required");
    }
    if let Some(i) = first_duplicate(&user.binds) {
        findings.error(path.key("binds").index(i), "listed twice");
    }
}

fn check_connector(findings: &mut Findings, connector: &ConnectorConfig, path: &FieldPath) {
    let c = connector;
    if let Some(problem) = name_problem(&c.name) {
        findings.error(path.key("name"), problem);
    }
    check_endpoint(findings, c, path);
    if c.password.expose().len() > PASSWORD_BYTES_MAX {
        let message = format!("longer than {PASSWORD_BYTES_MAX} bytes");
        findings.error(path.key("password"), message);
    }
    if c.system_type.len() > SYSTEM_TYPE_BYTES_MAX {
        let message = format!("longer than {SYSTEM_TYPE_BYTES_MAX} bytes");
        findings.error(path.key("system_type"), message);
    }
    findings.range(path.key("binds"), c.binds, 1, BINDS_MAX);
    findings.range(path.key("window_size"), c.window_size, 1, WINDOW_SIZE_MAX);
    findings.range(path.key("tps_max"), c.tps_max, 1, TPS_MAX);
    let interval = path.key("enquire_link_interval_s");
    findings.range(
        interval,
        c.enquire_link_interval_s,
        1,
        ENQUIRE_LINK_INTERVAL_S_MAX,
    );
    let timeout = path.key("response_timeout_ms");
    let (min, max) = (RESPONSE_TIMEOUT_MS_MIN, RESPONSE_TIMEOUT_MS_MAX);
    findings.range(timeout, c.response_timeout_ms, min, max);
    let backoff_min = path.key("reconnect_backoff_min_ms");
    findings.range(
        backoff_min,
        c.reconnect_backoff_min_ms,
        1,
        RECONNECT_BACKOFF_MS_MAX,
    );
    let backoff_max = path.key("reconnect_backoff_max_ms");
    let lowest = c.reconnect_backoff_min_ms;
    findings.range(
        backoff_max,
        c.reconnect_backoff_max_ms,
        lowest,
        RECONNECT_BACKOFF_MS_MAX,
    );
    if let Some(depth) = c.queue_depth_max {
        findings.range(path.key("queue_depth_max"), depth, 1, QUEUE_DEPTH_MAX);
    }
    if let Some(i) = first_duplicate(&c.quirks.national_tables) {
        let table = path.key("quirks").key("national_tables").index(i);
        findings.error(table, "listed twice");
    }
}

/// Host, port and system_id: required unless the simulator fills them in.
fn check_endpoint(findings: &mut Findings, c: &ConnectorConfig, path: &FieldPath) {
    if c.system_id.len() > NAME_BYTES_MAX {
        let message = format!("longer than {NAME_BYTES_MAX} bytes");
        findings.error(path.key("system_id"), message);
    }
    if !c.host.is_empty() && !is_host(&c.host) {
        let message = format!("`{}` is neither an IP address nor a host name", c.host);
        findings.error(path.key("host"), message);
    }
    if c.simulator {
        return;
    }
    if c.host.is_empty() {
        findings.error(path.key("host"), "host is required");
    }
    if c.port == 0 {
        findings.error(path.key("port"), "port is required (1..=65535)");
    }
    if c.system_id.is_empty() {
        findings.error(path.key("system_id"), "system_id is required");
    }
}

/// A host name (letters, digits, `-`, `.`), an IPv4 address, or an IPv6 address without
/// brackets.
pub(crate) fn is_host(host: &str) -> bool {
    if host.contains(':') {
        return host.parse::<Ipv6Addr>().is_ok();
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    host.len() <= 253 && host.bytes().all(allowed)
}

fn check_routes(findings: &mut Findings, config: &Config, routes: &FieldPath) {
    let mt = routes.key("mt");
    findings.count(mt.clone(), config.routes.mt.len(), ENTRIES_MAX);
    for (i, route) in config.routes.mt.iter().enumerate() {
        check_mt_route(findings, config, route, &mt.index(i));
    }
    if config.routes.mt.is_empty() {
        findings.warn(mt, "no MT route: every submitted message will be refused");
    }
    let mo = routes.key("mo");
    findings.count(mo.clone(), config.routes.mo.len(), ENTRIES_MAX);
    for (i, route) in config.routes.mo.iter().enumerate() {
        check_mo_route(findings, config, route, &mo.index(i));
    }
}

fn check_mt_route(
    findings: &mut Findings,
    config: &Config,
    route: &MtRouteConfig,
    path: &FieldPath,
) {
    check_destinations(
        findings,
        &route.destination_prefixes,
        &path.key("destination_prefixes"),
    );
    let sources = path.key("source_prefixes");
    findings.count(sources.clone(), route.source_prefixes.len(), ROUTE_LIST_MAX);
    for (i, prefix) in route.source_prefixes.iter().enumerate() {
        let ok = !prefix.is_empty()
            && prefix.len() <= SOURCE_PREFIX_BYTES_MAX
            && prefix.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            let message = format!(
                "`{prefix}` is not a source prefix (1..={SOURCE_PREFIX_BYTES_MAX} visible ASCII characters)"
            );
            findings.error(sources.index(i), message);
        }
    }
    let users = path.key("users");
    findings.count(users.clone(), route.users.len(), ROUTE_LIST_MAX);
    references(findings, &users, &route.users, "user", |name| {
        config.users.iter().any(|u| u.name == *name)
    });
    let connectors = path.key("connectors");
    if route.connectors.is_empty() {
        findings.error(connectors.clone(), "at least one connector is required");
    }
    findings.count(connectors.clone(), route.connectors.len(), FAILOVER_MAX);
    references(
        findings,
        &connectors,
        &route.connectors,
        "connector",
        |name| config.connectors.iter().any(|c| c.name == *name),
    );
}

fn check_mo_route(
    findings: &mut Findings,
    config: &Config,
    route: &MoRouteConfig,
    path: &FieldPath,
) {
    check_destinations(
        findings,
        &route.destination_prefixes,
        &path.key("destination_prefixes"),
    );
    if !config.users.iter().any(|u| u.name == route.user) {
        let message = format!("unknown user `{}`", route.user);
        findings.error(path.key("user"), message);
    }
}

/// Each name must exist and appear once.
fn references(
    findings: &mut Findings,
    list: &FieldPath,
    names: &[String],
    what: &str,
    exists: impl Fn(&String) -> bool,
) {
    for (i, name) in names.iter().enumerate() {
        if !exists(name) {
            findings.error(list.index(i), format!("unknown {what} `{name}`"));
        }
    }
    if let Some(i) = first_duplicate(names) {
        findings.error(list.index(i), format!("{what} listed twice"));
    }
}

fn check_destinations(findings: &mut Findings, prefixes: &[String], path: &FieldPath) {
    if prefixes.is_empty() {
        let message = "at least one prefix is required; [\"\"] matches every destination";
        findings.error(path.clone(), message);
    }
    findings.count(path.clone(), prefixes.len(), ROUTE_LIST_MAX);
    for (i, prefix) in prefixes.iter().enumerate() {
        let digits = normalise_address(prefix);
        let ok = digits.len() <= PREFIX_DIGITS_MAX && digits.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            let message = format!(
                "`{prefix}` is not a destination prefix (up to {PREFIX_DIGITS_MAX} digits, optionally after `+` or `00`)"
            );
            findings.error(path.index(i), message);
        }
    }
    let normalised: Vec<&str> = prefixes.iter().map(|p| normalise_address(p)).collect();
    if let Some(i) = first_duplicate(&normalised) {
        findings.error(path.index(i), "the same prefix is listed twice");
    }
}

/// The index of the first element equal to an earlier one.
fn first_duplicate<T: Eq + Hash>(items: &[T]) -> Option<usize> {
    let mut seen = HashSet::with_capacity(items.len());
    items.iter().position(|item| !seen.insert(item))
}
