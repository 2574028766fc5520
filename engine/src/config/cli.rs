//! `tern run` options: which configuration to start from and the overrides for scripting.
//!
//! - No `--config`: the demo ([`Config::demo`]). With `--config FILE`: that file.
//! - `--data-dir`, `--smpp-listen`, `--http-listen`, `--shards` replace the value.
//! - `--user NAME:PASSWORD` (repeatable) adds a user, or replaces the password of the user
//!   of that name; the password is everything after the first `:` and may contain `:`.
//! - `--connector NAME=smpp://SYSTEM_ID:PASSWORD@HOST:PORT?binds=K&window=W&tps=T&bind=trx`
//!   (repeatable) adds a connector, or replaces the address, credentials and given query
//!   settings of the connector of that name (its quirks stay). SYSTEM_ID and PASSWORD are
//!   percent-decoded (`%40` for `@`, `%3A` for `:`); an IPv6 host is written in brackets
//!   (`[::1]:2775`); the query is optional and each key at most once.
//! - The first `--connector` becomes the default route: an MT route for prefix `""` with
//!   no user or source condition, after the configured routes, so every message that no
//!   configured route takes goes to it. A configured route of that same shape is removed,
//!   since only the first of two such routes could ever match. The other `--connector`s
//!   are only made available, for routes of the configuration file to name.
//!
//! Errors name the option and the part of the value at fault, and never repeat a password.

use std::ffi::OsStr;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

use super::bounds::{BINDS_MAX, SHARDS_MAX, TPS_MAX, WINDOW_SIZE_MAX};
use super::validate::{is_host, name_problem};
use super::{
    BindKind, Config, ConfigError, ConnectorConfig, Loaded, MtRouteConfig, Secret, UserConfig,
};

/// The options of `tern run`.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(about = "Run the gateway; with no options, a self-contained demo")]
pub struct RunArgs {
    /// TOML configuration of a real deployment (without it: the demo).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the write-ahead log and the receipt index.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// SMPP listen address, as IP:PORT.
    #[arg(long, value_name = "ADDR")]
    pub smpp_listen: Option<SocketAddr>,
    /// HTTP listen address, as IP:PORT.
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
    /// Number of shards (pinned cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(SHARDS_MAX)))]
    pub shards: Option<u32>,
    /// Add a user, or set the password of an existing one (repeatable).
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = QuietParser::<UserArg>::new())]
    pub users: Vec<UserArg>,
    /// Add or replace an upstream SMSC; the first is the default route (repeatable).
    #[arg(
        long = "connector",
        value_name = "NAME=smpp://SYSTEM_ID:PASSWORD@HOST:PORT?binds=K&window=W&tps=T&bind=trx",
        value_parser = QuietParser::<ConnectorArg>::new()
    )]
    pub connectors: Vec<ConnectorArg>,
}

impl RunArgs {
    /// The configuration to start from: `--config FILE`, else the demo.
    pub fn base_config(&self) -> Result<Loaded, ConfigError> {
        match &self.config {
            Some(path) => Config::load(path),
            None => {
                let config = Config::demo();
                let warnings = config.validate("demo")?;
                Ok(Loaded { config, warnings })
            }
        }
    }

    /// The base configuration with these overrides applied, validated.
    pub fn resolve(self) -> Result<Loaded, ConfigError> {
        let from_file = self.config.is_some();
        let base = self.base_config()?;
        let config = self.apply(base.config)?;
        let warnings = if from_file {
            base.warnings
        } else {
            config.validate("command line")?
        };
        Ok(Loaded { config, warnings })
    }

    /// Applies the overrides to `base` and validates the result.
    pub fn apply(self, base: Config) -> Result<Config, ConfigError> {
        let mut config = base;
        if let Some(dir) = self.data_dir {
            config.node.data_dir = dir;
        }
        if let Some(listen) = self.smpp_listen {
            config.smpp.listen = listen;
        }
        if let Some(listen) = self.http_listen {
            config.http.listen = listen;
        }
        if let Some(shards) = self.shards {
            config.node.shards = Some(shards);
        }
        for user in self.users {
            upsert_user(&mut config, user);
        }
        let default_route = self.connectors.first().map(|c| c.name.clone());
        for connector in self.connectors {
            upsert_connector(&mut config, connector);
        }
        if let Some(name) = default_route {
            set_default_route(&mut config, name);
        }
        config.validate("command line")?;
        Ok(config)
    }
}

fn upsert_user(config: &mut Config, arg: UserArg) {
    match config.users.iter_mut().find(|u| u.name == arg.name) {
        Some(user) => {
            user.password = Some(arg.password);
            user.password_hash = None;
        }
        None => config.users.push(UserConfig {
            name: arg.name,
            password: Some(arg.password),
            ..UserConfig::default()
        }),
    }
}

fn upsert_connector(config: &mut Config, arg: ConnectorArg) {
    let index = match config.connectors.iter().position(|c| c.name == arg.name) {
        Some(index) => index,
        None => {
            config.connectors.push(ConnectorConfig {
                name: arg.name.clone(),
                ..ConnectorConfig::default()
            });
            config.connectors.len() - 1
        }
    };
    let Some(connector) = config.connectors.get_mut(index) else {
        return;
    };
    connector.simulator = false;
    connector.host = arg.host;
    connector.port = arg.port;
    connector.system_id = arg.system_id;
    connector.password = arg.password;
    connector.binds = arg.binds.unwrap_or(connector.binds);
    connector.window_size = arg.window_size.unwrap_or(connector.window_size);
    connector.tps_max = arg.tps_max.unwrap_or(connector.tps_max);
    connector.bind = arg.bind.unwrap_or(connector.bind);
}

fn set_default_route(config: &mut Config, connector: String) {
    let is_catch_all = |r: &MtRouteConfig| {
        r.users.is_empty()
            && r.source_prefixes.is_empty()
            && !r.destination_prefixes.is_empty()
            && r.destination_prefixes.iter().all(|p| p.is_empty())
    };
    config.routes.mt.retain(|r| !is_catch_all(r));
    config.routes.mt.push(MtRouteConfig {
        destination_prefixes: vec![String::new()],
        connectors: vec![connector],
        ..MtRouteConfig::default()
    });
}

/// What is wrong with a `--user` or `--connector` value. Passwords are never quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// `--user` without `:`.
    #[error("expected NAME:PASSWORD, found no `:`")]
    UserWithoutColon,
    /// `--connector` without `=`.
    #[error("expected NAME=smpp://..., found no `=`")]
    ConnectorWithoutEquals,
    /// A user or connector name that cannot be used.
    #[error("bad name: {0}")]
    BadName(String),
    /// The URL does not start with `scheme://`.
    #[error("`{0}` is not a URL: expected smpp://SYSTEM_ID:PASSWORD@HOST:PORT")]
    NotAUrl(String),
    /// A scheme other than `smpp`.
    #[error("scheme `{0}` is not supported: use smpp://")]
    Scheme(String),
    /// No `SYSTEM_ID:PASSWORD@` before the host.
    #[error("missing SYSTEM_ID:PASSWORD@ before the host")]
    MissingCredentials,
    /// `SYSTEM_ID@` without `:PASSWORD`.
    #[error("missing `:PASSWORD` after the system_id")]
    MissingPassword,
    /// An empty system_id.
    #[error("the system_id is empty")]
    EmptySystemId,
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
    #[error("bad percent-encoding in the {part} at byte {offset}")]
    BadEscape {
        /// `system_id` or `password`.
        part: &'static str,
        /// Byte offset of the bad escape in that part.
        offset: usize,
    },
    /// No host before the port.
    #[error("missing host")]
    MissingHost,
    /// A host that is neither an IP address nor a host name.
    #[error("bad host `{0}`")]
    BadHost(String),
    /// A bracketed host that is not an IPv6 address.
    #[error("`[{0}]` is not an IPv6 address")]
    BadIpv6(String),
    /// An IPv6 address without brackets.
    #[error("IPv6 host `{0}` must be in brackets, as [::1]:2775")]
    Ipv6WithoutBrackets(String),
    /// No `:PORT` after the host.
    #[error("missing port after host `{0}` (HOST:PORT)")]
    MissingPort(String),
    /// A port that is not 1..=65535.
    #[error("bad port `{0}`: expected 1..=65535")]
    BadPort(String),
    /// Something after the port other than a query.
    #[error("unexpected path `{0}` after the port")]
    UnexpectedPath(String),
    /// A query key this URL does not know.
    #[error("unknown query key `{0}`: expected binds, window, tps or bind")]
    UnknownKey(String),
    /// A query key given twice.
    #[error("query key `{0}` given twice")]
    DuplicateKey(String),
    /// A query value that does not parse or is out of bounds.
    #[error("query `{key}={value}`: expected {expected}")]
    BadValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What it should be.
        expected: String,
    },
}

/// A `--user NAME:PASSWORD` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserArg {
    /// The user's name.
    pub name: String,
    /// Everything after the first `:`.
    pub password: Secret,
}

impl FromStr for UserArg {
    type Err = ArgError;

    fn from_str(text: &str) -> Result<Self, ArgError> {
        let (name, password) = text.split_once(':').ok_or(ArgError::UserWithoutColon)?;
        if let Some(problem) = name_problem(name) {
            return Err(ArgError::BadName(problem));
        }
        Ok(Self {
            name: name.to_owned(),
            password: Secret::new(password),
        })
    }
}

/// A `--connector NAME=smpp://...` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorArg {
    /// The connector's name.
    pub name: String,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Percent-decoded system_id.
    pub system_id: String,
    /// Percent-decoded password.
    pub password: Secret,
    /// `binds=K`.
    pub binds: Option<u32>,
    /// `window=W`.
    pub window_size: Option<u32>,
    /// `tps=T`.
    pub tps_max: Option<u32>,
    /// `bind=tx|rx|trx`.
    pub bind: Option<BindKind>,
}

impl FromStr for ConnectorArg {
    type Err = ArgError;

    fn from_str(text: &str) -> Result<Self, ArgError> {
        let (name, url) = text
            .split_once('=')
            .ok_or(ArgError::ConnectorWithoutEquals)?;
        if let Some(problem) = name_problem(name) {
            return Err(ArgError::BadName(problem));
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| ArgError::NotAUrl(url.to_owned()))?;
        if !scheme.eq_ignore_ascii_case("smpp") {
            return Err(ArgError::Scheme(scheme.to_owned()));
        }
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = authority.split_once('/').unwrap_or((authority, ""));
        if !path.is_empty() {
            return Err(ArgError::UnexpectedPath(format!("/{path}")));
        }
        let (userinfo, host_port) = authority
            .rsplit_once('@')
            .ok_or(ArgError::MissingCredentials)?;
        let (system_id, password) = credentials(userinfo)?;
        let (host, port) = host_and_port(host_port)?;
        let mut arg = ConnectorArg {
            name: name.to_owned(),
            host,
            port,
            system_id,
            password: Secret::new(password),
            binds: None,
            window_size: None,
            tps_max: None,
            bind: None,
        };
        apply_query(&mut arg, query)?;
        Ok(arg)
    }
}

fn credentials(userinfo: &str) -> Result<(String, String), ArgError> {
    let (system_id, password) = userinfo.split_once(':').ok_or(ArgError::MissingPassword)?;
    let system_id = percent_decode(system_id).map_err(|offset| ArgError::BadEscape {
        part: "system_id",
        offset,
    })?;
    if system_id.is_empty() {
        return Err(ArgError::EmptySystemId);
    }
    let password = percent_decode(password).map_err(|offset| ArgError::BadEscape {
        part: "password",
        offset,
    })?;
    Ok((system_id, password))
}

fn host_and_port(text: &str) -> Result<(String, u16), ArgError> {
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or_else(|| ArgError::BadIpv6(bracketed.to_owned()))?;
        inside
            .parse::<Ipv6Addr>()
            .map_err(|_| ArgError::BadIpv6(inside.to_owned()))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| ArgError::MissingPort(format!("[{inside}]")))?;
        (inside, port)
    } else {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| ArgError::MissingPort(text.to_owned()))?;
        if host.contains(':') {
            return Err(ArgError::Ipv6WithoutBrackets(text.to_owned()));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(ArgError::MissingHost);
    }
    if !is_host(host) {
        return Err(ArgError::BadHost(host.to_owned()));
    }
    if port.is_empty() {
        return Err(ArgError::MissingPort(host.to_owned()));
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| ArgError::BadPort(port.to_owned()))?;
    Ok((host.to_owned(), port))
}

fn apply_query(arg: &mut ConnectorArg, query: &str) -> Result<(), ArgError> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let given = match key {
            "binds" => arg.binds.replace(number(key, value, BINDS_MAX)?).is_some(),
            "window" => arg
                .window_size
                .replace(number(key, value, WINDOW_SIZE_MAX)?)
                .is_some(),
            "tps" => arg.tps_max.replace(number(key, value, TPS_MAX)?).is_some(),
            "bind" => {
                let kind =
                    BindKind::parse(value).ok_or_else(|| bad_value(key, value, "tx, rx or trx"))?;
                arg.bind.replace(kind).is_some()
            }
            _ => return Err(ArgError::UnknownKey(key.to_owned())),
        };
        if given {
            return Err(ArgError::DuplicateKey(key.to_owned()));
        }
    }
    Ok(())
}

fn number(key: &str, value: &str, max: u32) -> Result<u32, ArgError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| bad_value(key, value, &format!("a number in 1..={max}")))
}

fn bad_value(key: &str, value: &str, expected: &str) -> ArgError {
    ArgError::BadValue {
        key: key.to_owned(),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

/// Decodes `%XX` escapes; the error is the byte offset of the first bad escape (or of
/// the start, when the result is not UTF-8).
fn percent_decode(text: &str) -> Result<String, usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte != b'%' {
            out.push(byte);
            i += 1;
            continue;
        }
        let high = bytes.get(i + 1).and_then(|&b| hex_value(b)).ok_or(i)?;
        let low = bytes.get(i + 2).and_then(|&b| hex_value(b)).ok_or(i)?;
        out.push(high << 4 | low);
        i += 3;
    }
    String::from_utf8(out).map_err(|_| 0)
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Parses with `T::from_str` but, unlike clap's default, does not echo the value in its
/// error: a `--connector` or `--user` value holds a password.
#[derive(Clone)]
struct QuietParser<T>(std::marker::PhantomData<fn() -> T>);

impl<T> QuietParser<T> {
    fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<T> TypedValueParser for QuietParser<T>
where
    T: FromStr<Err = ArgError> + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let option = arg.map_or_else(
            || "the option".to_owned(),
            |a| format!("--{}", a.get_long().unwrap_or(a.get_id().as_str())),
        );
        let fail = |message: String| {
            let error =
                clap::Error::raw(ErrorKind::ValueValidation, format!("{option}: {message}\n"));
            error.with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| fail("not UTF-8".into()))?;
        text.parse().map_err(|e: ArgError| fail(e.to_string()))
    }
}
