//! The per-shard callback sender: retries with backoff, bounded everywhere.
//!
//! The engine [`Dispatcher::enqueue`]s a rendered [`CallbackRequest`] under its own
//! `token` (e.g. the message's WAL position) and later collects exactly one
//! [`CallbackOutcome`] per token with [`Dispatcher::try_completion`] or
//! [`Dispatcher::next_completion`]: `Acknowledged`, or `GaveUp` once
//! `give_up_after_s` has passed since the enqueue with every attempt failed.
//!
//! # Bounds
//! - `queue_capacity` tokens at once, counted from `enqueue` until their completion is
//!   taken: waiting, in flight and reported-but-not-taken all hold a slot, so the
//!   completion buffer can never overflow and `enqueue` answers [`DispatchFull`] instead
//!   of growing.
//! - `max_in_flight_per_host` requests per destination (`host:port`), and
//!   `max_in_flight_total` overall: a slow or dead client holds only its own slots and
//!   everyone else's callbacks keep flowing.
//! - `request_timeout_ms` per attempt (connect, request, answer body), answer bodies read
//!   up to `max_response_octets`, at most `max_idle_per_host` kept-alive connections per
//!   host, each closed after `idle_timeout_ms` unused.
//!
//! # Retries
//! Delay before attempt n+1 is `backoff_min_ms · 2ⁿ⁻¹`, capped at `backoff_max_ms`, then
//! shortened by a random fraction up to `jitter` (so a client's recovery is not met by a
//! synchronized burst), and never past the give-up deadline, where one last attempt runs.
//! Success is a 2xx status, and for Jasmin style a body starting with `ACK/Jasmin`.
//!
//! # Transport
//! `http://` and `https://` (rustls with the ring provider, TLS 1.2 and 1.3, server
//! certificates checked against the Mozilla roots of `webpki-roots` and/or the roots the
//! configuration adds). hyper's `client::conn::http1` over glommio's `TcpStream` (inside
//! `futures-rustls` for https); host names are resolved on glommio's blocking pool so the
//! shard never blocks on DNS, and each resolved address (at most 4) is tried in turn; IP
//! literals skip it. Each attempt is signed afresh (`t` is the send time) when a key is configured, see
//! [`crate::callback::signature`].

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request};

use crate::api::CallbackMethod;
use crate::callback::{Acknowledgement, CallbackRequest, signature};
use crate::time::instant_after;

/// Settings of a [`Dispatcher`].
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Tokens held at once (waiting, in flight, or completed and not yet taken).
    pub queue_capacity: usize,
    /// Concurrent requests to one `host:port`.
    pub max_in_flight_per_host: usize,
    /// Concurrent requests overall.
    pub max_in_flight_total: usize,
    /// Limit of one attempt: connect, send, and read the answer.
    pub request_timeout_ms: u64,
    /// First retry delay.
    pub backoff_min_ms: u64,
    /// Largest retry delay.
    pub backoff_max_ms: u64,
    /// Fraction (0 to 1) by which a delay may be randomly shortened.
    pub jitter: f64,
    /// Time from enqueue after which a callback still failing is given up.
    pub give_up_after_s: u64,
    /// Key of the `X-Tern-Signature` HMAC; `None` sends no signature.
    pub signing_key: Option<Vec<u8>>,
    /// Kept-alive connections per host.
    pub max_idle_per_host: usize,
    /// Largest answer body read (the rest is not needed to judge it).
    pub max_response_octets: usize,
    /// Time after which an idle kept-alive connection is closed.
    pub idle_timeout_ms: u64,
    /// Trust the Mozilla root certificates (`webpki-roots`) for https callbacks.
    pub tls_webpki_roots: bool,
    /// More trusted root certificates (DER), e.g. a private CA of a client.
    pub tls_extra_roots_der: Vec<Vec<u8>>,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            queue_capacity: 10_000,
            max_in_flight_per_host: 4,
            max_in_flight_total: 256,
            request_timeout_ms: 10_000,
            backoff_min_ms: 1_000,
            backoff_max_ms: 300_000,
            jitter: 0.2,
            give_up_after_s: 48 * 3600,
            signing_key: None,
            max_idle_per_host: 4,
            max_response_octets: 16 * 1024,
            idle_timeout_ms: 30_000,
            tls_webpki_roots: true,
            tls_extra_roots_der: Vec::new(),
        }
    }
}

/// What became of a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The receiver acknowledged it.
    Acknowledged {
        /// Attempts it took.
        attempts: u32,
    },
    /// Every attempt until the give-up time failed (or the URL cannot be served).
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Why the last attempt failed.
        last_error: String,
    },
}

/// The dispatcher holds `queue_capacity` tokens already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("callback queue full")]
pub struct DispatchFull;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct HostKey {
    tls: bool,
    host: String,
    port: u16,
}

#[derive(Debug)]
struct Job {
    token: u64,
    request: CallbackRequest,
    target: Result<(HostKey, String), String>,
    attempts: u32,
    deadline: Instant,
    next_at: Instant,
}

type Sender = SendRequest<Full<Bytes>>;

#[derive(Default)]
struct HostState {
    /// Jobs by due time (ties in enqueue order), so the due one is found in O(log n).
    waiting: BTreeMap<(Instant, u64), Job>,
    in_flight: usize,
    /// Kept-alive connections with the time they became idle.
    idle: Vec<(Sender, Instant)>,
}

/// Counters of a dispatcher since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchCounters {
    /// Callbacks acknowledged.
    pub acknowledged: u64,
    /// Callbacks given up.
    pub gave_up: u64,
    /// Attempts that failed (each retried or given up).
    pub attempts_failed: u64,
    /// Enqueues refused with [`DispatchFull`].
    pub refused_full: u64,
}

struct Inner {
    config: DispatcherConfig,
    /// `None` when no TLS configuration could be built (https callbacks then give up).
    tls: Option<futures_rustls::TlsConnector>,
    counters: Cell<DispatchCounters>,
    hosts: RefCell<HashMap<HostKey, HostState>>,
    invalid: RefCell<VecDeque<Job>>,
    in_flight: Cell<usize>,
    held: Cell<usize>,
    completions: RefCell<VecDeque<(u64, CallbackOutcome)>>,
    driver_waker: RefCell<Option<Waker>>,
    completion_waker: RefCell<Option<Waker>>,
    closed: Cell<bool>,
    rng: Cell<u64>,
    seq: Cell<u64>,
}

/// Sends callbacks for one shard (see the module docs). Dropping it stops its driver;
/// attempts in flight finish on their own.
pub struct Dispatcher {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("held", &self.inner.held.get())
            .field("in_flight", &self.inner.in_flight.get())
            .finish()
    }
}

impl Dispatcher {
    /// A dispatcher whose driver runs as a task on the current glommio executor.
    pub fn new(config: DispatcherConfig) -> Dispatcher {
        let seed = crate::time::now_unix_ms() | 1;
        let tls = tls_connector(&config);
        let inner = Rc::new(Inner {
            tls,
            config,
            counters: Cell::new(DispatchCounters::default()),
            hosts: RefCell::new(HashMap::new()),
            invalid: RefCell::new(VecDeque::new()),
            in_flight: Cell::new(0),
            held: Cell::new(0),
            completions: RefCell::new(VecDeque::new()),
            driver_waker: RefCell::new(None),
            completion_waker: RefCell::new(None),
            closed: Cell::new(false),
            rng: Cell::new(seed),
            seq: Cell::new(0),
        });
        glommio::spawn_local(drive(inner.clone())).detach();
        Dispatcher { inner }
    }

    /// Queues `request` under `token`; one outcome per token will follow.
    pub fn enqueue(&self, token: u64, request: CallbackRequest) -> Result<(), DispatchFull> {
        let inner = &self.inner;
        if inner.held.get() >= inner.config.queue_capacity.max(1) {
            inner.count(|c| c.refused_full += 1);
            return Err(DispatchFull);
        }
        inner.held.set(inner.held.get() + 1);
        let now = Instant::now();
        let target = parse_target(&request.url);
        let job = Job {
            token,
            request,
            target,
            attempts: 0,
            deadline: instant_after(now, Duration::from_secs(inner.config.give_up_after_s)),
            next_at: now,
        };
        match &job.target {
            Ok((key, _)) => {
                let key = key.clone();
                let slot = (job.next_at, inner.next_seq());
                let mut hosts = inner.hosts.borrow_mut();
                hosts.entry(key).or_default().waiting.insert(slot, job);
            }
            Err(_) => inner.invalid.borrow_mut().push_back(job),
        }
        inner.wake_driver();
        Ok(())
    }

    /// A completion, if one is ready (frees its token's slot).
    pub fn try_completion(&self) -> Option<(u64, CallbackOutcome)> {
        let done = self.inner.completions.borrow_mut().pop_front()?;
        self.inner.held.set(self.inner.held.get().saturating_sub(1));
        Some(done)
    }

    /// Waits for the next completion (one waiter at a time).
    pub async fn next_completion(&self) -> (u64, CallbackOutcome) {
        std::future::poll_fn(|cx| match self.try_completion() {
            Some(done) => Poll::Ready(done),
            None => {
                *self.inner.completion_waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Tokens held (waiting, in flight, or completed and not yet taken).
    pub fn held(&self) -> usize {
        self.inner.held.get()
    }

    /// Counters since start.
    pub fn counters(&self) -> DispatchCounters {
        self.inner.counters.get()
    }

    /// Appends this dispatcher's families in Prometheus text format (the engine adds
    /// them to its own [`Backend::render_metrics`](crate::Backend::render_metrics)).
    pub fn render_metrics(&self, out: &mut String) {
        use crate::metrics::{MetricKind, MetricsWriter};
        let c = self.counters();
        let mut w = MetricsWriter::new(out);
        w.family(
            "tern_callbacks_total",
            "Callbacks finished, by outcome.",
            MetricKind::Counter,
        );
        w.sample_u64(
            "tern_callbacks_total",
            &[("outcome", "acknowledged")],
            c.acknowledged,
        );
        w.sample_u64("tern_callbacks_total", &[("outcome", "gave_up")], c.gave_up);
        w.family(
            "tern_callback_attempts_failed_total",
            "Callback attempts that failed.",
            MetricKind::Counter,
        );
        w.sample_u64(
            "tern_callback_attempts_failed_total",
            &[],
            c.attempts_failed,
        );
        w.family(
            "tern_callbacks_refused_total",
            "Enqueues refused because the queue was full.",
            MetricKind::Counter,
        );
        w.sample_u64("tern_callbacks_refused_total", &[], c.refused_full);
        w.family(
            "tern_callbacks_held",
            "Callbacks held: waiting, in flight or not yet collected.",
            MetricKind::Gauge,
        );
        w.sample_u64("tern_callbacks_held", &[], self.inner.held.get() as u64);
        w.family(
            "tern_callbacks_in_flight",
            "Callback requests in flight.",
            MetricKind::Gauge,
        );
        w.sample_u64(
            "tern_callbacks_in_flight",
            &[],
            self.inner.in_flight.get() as u64,
        );
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.inner.closed.set(true);
        self.inner.wake_driver();
    }
}

impl Inner {
    fn next_seq(&self) -> u64 {
        let seq = self.seq.get();
        self.seq.set(seq.wrapping_add(1));
        seq
    }

    fn wake_driver(&self) {
        if let Some(w) = self.driver_waker.borrow_mut().take() {
            w.wake();
        }
    }

    fn count(&self, change: impl FnOnce(&mut DispatchCounters)) {
        let mut c = self.counters.get();
        change(&mut c);
        self.counters.set(c);
    }

    fn complete(&self, token: u64, outcome: CallbackOutcome) {
        match outcome {
            CallbackOutcome::Acknowledged { .. } => self.count(|c| c.acknowledged += 1),
            CallbackOutcome::GaveUp { .. } => self.count(|c| c.gave_up += 1),
        }
        self.completions.borrow_mut().push_back((token, outcome));
        if let Some(w) = self.completion_waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// A uniform number in [0, 1) (xorshift64*: jitter needs spread, not secrecy).
    fn random_unit(&self) -> f64 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn retry_delay(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(32);
        let base = self
            .config
            .backoff_min_ms
            .saturating_mul(1u64 << exp)
            .min(self.config.backoff_max_ms);
        let jitter = self.config.jitter.clamp(0.0, 1.0) * self.random_unit();
        Duration::from_millis((base as f64 * (1.0 - jitter)) as u64)
    }

    /// Starts every attempt that is due and allowed; returns the earliest time something
    /// waiting becomes due.
    fn start_due(self: &Rc<Self>, now: Instant) -> Option<Instant> {
        while let Some(job) = self.invalid.borrow_mut().pop_front() {
            let last_error = job.target.err().unwrap_or_default();
            self.complete(
                job.token,
                CallbackOutcome::GaveUp {
                    attempts: 0,
                    last_error,
                },
            );
        }
        let mut earliest: Option<Instant> = None;
        let mut hosts = self.hosts.borrow_mut();
        for (key, host) in hosts.iter_mut() {
            while host.in_flight < self.config.max_in_flight_per_host.max(1)
                && self.in_flight.get() < self.config.max_in_flight_total.max(1)
            {
                let due = host
                    .waiting
                    .first_key_value()
                    .is_some_and(|((at, _), _)| *at <= now);
                let Some((_, job)) = due.then(|| host.waiting.pop_first()).flatten() else {
                    break;
                };
                host.in_flight += 1;
                self.in_flight.set(self.in_flight.get() + 1);
                let idle = host.idle.pop().map(|(sender, _)| sender);
                glommio::spawn_local(attempt(self.clone(), key.clone(), job, idle)).detach();
            }
            if host.in_flight < self.config.max_in_flight_per_host.max(1)
                && let Some(((at, _), _)) = host.waiting.first_key_value()
            {
                earliest = Some(earliest.map_or(*at, |e| e.min(*at)));
            }
            // Idle connections are closed after idle_timeout_ms, so the sockets kept open
            // stay bounded by the hosts called recently.
            let idle_timeout = Duration::from_millis(self.config.idle_timeout_ms);
            host.idle
                .retain(|(_, since)| now.saturating_duration_since(*since) < idle_timeout);
            if let Some((_, since)) = host.idle.first() {
                let expiry = instant_after(*since, idle_timeout);
                earliest = Some(earliest.map_or(expiry, |e| e.min(expiry)));
            }
        }
        hosts.retain(|_, h| !h.waiting.is_empty() || h.in_flight > 0 || !h.idle.is_empty());
        earliest
    }

    fn finish(
        &self,
        key: &HostKey,
        mut job: Job,
        result: Result<(), String>,
        sender: Option<Sender>,
    ) {
        self.in_flight.set(self.in_flight.get().saturating_sub(1));
        let mut hosts = self.hosts.borrow_mut();
        let host = hosts.entry(key.clone()).or_default();
        host.in_flight = host.in_flight.saturating_sub(1);
        if let Some(s) = sender
            && host.idle.len() < self.config.max_idle_per_host
        {
            host.idle.push((s, Instant::now()));
        }
        let now = Instant::now();
        match result {
            Ok(()) => self.complete(
                job.token,
                CallbackOutcome::Acknowledged {
                    attempts: job.attempts,
                },
            ),
            Err(last_error) if now >= job.deadline => self.complete(
                job.token,
                CallbackOutcome::GaveUp {
                    attempts: job.attempts,
                    last_error,
                },
            ),
            Err(_) => {
                job.next_at = instant_after(now, self.retry_delay(job.attempts)).min(job.deadline);
                let slot = (job.next_at, self.next_seq());
                host.waiting.insert(slot, job);
            }
        }
        drop(hosts);
        self.wake_driver();
    }
}

fn tls_connector(config: &DispatcherConfig) -> Option<futures_rustls::TlsConnector> {
    use futures_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    if config.tls_webpki_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for der in &config.tls_extra_roots_der {
        let cert = rustls::pki_types::CertificateDer::from(der.clone());
        if let Err(e) = roots.add(cert) {
            tracing::warn!(error = %e, "an extra TLS root certificate was refused");
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tracing::warn!(error = %e, "no TLS for callbacks"))
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Some(futures_rustls::TlsConnector::from(std::sync::Arc::new(
        client,
    )))
}

async fn drive(inner: Rc<Inner>) {
    while !inner.closed.get() {
        let earliest = inner.start_due(Instant::now());
        let woken = Rc::new(Cell::new(false));
        let sleep = async {
            match earliest {
                Some(at) => {
                    glommio::timer::sleep(at.saturating_duration_since(Instant::now())).await
                }
                // Nothing waits: sleep until an enqueue or a finished attempt wakes us;
                // the timer is only a backstop.
                None => glommio::timer::sleep(Duration::from_secs(60)).await,
            }
        };
        let wake = std::future::poll_fn(|cx| {
            if woken.get() {
                return Poll::Ready(());
            }
            woken.set(true);
            *inner.driver_waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        });
        futures_lite::future::or(sleep, wake).await;
    }
}

/// `http[s]://host[:port]/path?query` → host key and origin-form target.
fn parse_target(url: &str) -> Result<(HostKey, String), String> {
    if url.len() > crate::callback::MAX_URL_OCTETS {
        return Err("callback url too long".into());
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let (tls, rest) = if lower.starts_with("https://") {
        (true, url.get(8..))
    } else if lower.starts_with("http://") {
        (false, url.get(7..))
    } else {
        (false, None)
    };
    let rest = rest.ok_or_else(|| format!("not an http:// or https:// url: {url}"))?;
    let default_port = if tls { 443 } else { 80 };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or("bad IPv6 host")?;
            let port = after
                .strip_prefix(':')
                .map(str::parse::<u16>)
                .transpose()
                .map_err(|_| "bad port")?;
            (h.to_owned(), port.unwrap_or(default_port))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse::<u16>().map_err(|_| "bad port")?),
            None => (authority.to_owned(), default_port),
        },
    };
    if host.is_empty() {
        return Err("callback url has no host".into());
    }
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    Ok((HostKey { tls, host, port }, path))
}

/// Most addresses of one host name tried per attempt.
const MAX_ADDRESSES: usize = 4;

async fn resolve(key: &HostKey) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = key.host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, key.port)]);
    }
    let target = (key.host.clone(), key.port);
    let addrs: Vec<SocketAddr> = glommio::executor()
        .spawn_blocking(move || {
            target
                .to_socket_addrs()
                .map(|a| a.take(MAX_ADDRESSES).collect())
        })
        .await
        .map_err(|e| format!("resolve {}: {e}", key.host))?;
    if addrs.is_empty() {
        return Err(format!("resolve {}: no address", key.host));
    }
    Ok(addrs)
}

async fn connect_tcp(key: &HostKey, timeout: Duration) -> Result<glommio::net::TcpStream, String> {
    let mut last_error = String::new();
    for addr in resolve(key).await? {
        match glommio::net::TcpStream::connect_timeout(addr, timeout).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last_error = format!("connect {addr}: {e}"),
        }
    }
    Err(last_error)
}

async fn handshake<S>(io: S, key: &HostKey) -> Result<Sender, String>
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(crate::io::HyperStream::new(io))
        .await
        .map_err(|e| format!("http handshake with {}: {e}", key.host))?;
    glommio::spawn_local(async move {
        let _ = conn.await;
    })
    .detach();
    Ok(sender)
}

async fn connect(inner: &Inner, key: &HostKey, timeout: Duration) -> Result<Sender, String> {
    let stream = connect_tcp(key, timeout).await?;
    if !key.tls {
        return handshake(stream, key).await;
    }
    let connector = inner
        .tls
        .as_ref()
        .ok_or("https callbacks: TLS is not available")?;
    let name = futures_rustls::rustls::pki_types::ServerName::try_from(key.host.clone())
        .map_err(|e| format!("tls name {}: {e}", key.host))?;
    let tls = connector
        .connect(name, stream)
        .await
        .map_err(|e| format!("tls handshake with {}: {e}", key.host))?;
    handshake(tls, key).await
}

fn build_request(
    inner: &Inner,
    key: &HostKey,
    path: &str,
    request: &CallbackRequest,
) -> Result<Request<Full<Bytes>>, String> {
    let method = match request.method {
        CallbackMethod::Get => Method::GET,
        CallbackMethod::Post => Method::POST,
    };
    let mut req = Request::new(Full::new(Bytes::from(request.body.clone())));
    *req.method_mut() = method;
    *req.uri_mut() = path.parse().map_err(|e| format!("bad url path: {e}"))?;
    let default_port = if key.tls { 443 } else { 80 };
    let host = if key.port == default_port {
        key.host.clone()
    } else {
        format!("{}:{}", key.host, key.port)
    };
    let headers = req.headers_mut();
    headers.insert(
        header::HOST,
        HeaderValue::from_str(&host).map_err(|_| "bad host")?,
    );
    headers.insert(header::USER_AGENT, HeaderValue::from_static("tern-gateway"));
    if let Some(ct) = request.content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if let Some(key) = &inner.config.signing_key {
        let now_s = crate::time::now_unix_ms() / 1000;
        let sig = signature(key, now_s, request.method, &request.url, &request.body);
        if let Ok(v) = HeaderValue::from_str(&sig) {
            headers.insert("x-tern-signature", v);
        }
    }
    Ok(req)
}

/// One attempt: returns whether it was acknowledged and the connection if reusable.
async fn exchange(
    inner: &Inner,
    key: &HostKey,
    job: &Job,
    idle: Option<Sender>,
) -> (Result<(), String>, Option<Sender>) {
    let timeout = Duration::from_millis(inner.config.request_timeout_ms.max(1));
    let Ok((_, path)) = &job.target else {
        return (Err("invalid target".into()), None);
    };
    let work = async {
        let reused = match idle {
            Some(mut s) => s.ready().await.is_ok().then_some(s),
            None => None,
        };
        let mut sender = match reused {
            Some(s) => s,
            None => connect(inner, key, timeout).await?,
        };
        let req = build_request(inner, key, path, &job.request)?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), inner.config.max_response_octets)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let acked = status.is_success()
            && match job.request.ack {
                Acknowledgement::Status2xx => true,
                Acknowledgement::JasminAck => body.starts_with(b"ACK/Jasmin"),
            };
        let reusable = (!sender.is_closed()).then_some(sender);
        if acked {
            Ok(reusable)
        } else {
            Err(format!("answer {status} not an acknowledgement"))
        }
    };
    let timed = async {
        glommio::timer::sleep(timeout).await;
        Err(format!("no answer within {} ms", timeout.as_millis()))
    };
    match futures_lite::future::or(work, timed).await {
        Ok(sender) => (Ok(()), sender),
        Err(e) => (Err(e), None),
    }
}

async fn attempt(inner: Rc<Inner>, key: HostKey, mut job: Job, idle: Option<Sender>) {
    job.attempts += 1;
    let (result, sender) = exchange(&inner, &key, &job, idle).await;
    if let Err(e) = &result {
        inner.count(|c| c.attempts_failed += 1);
        tracing::debug!(token = job.token, attempt = job.attempts, error = %e, "callback attempt failed");
    }
    inner.finish(&key, job, result, sender);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_host_port_and_origin_form() {
        let t = |u: &str| parse_target(u).map(|(k, p)| (k.host, k.port, p));
        assert_eq!(t("http://h/x?y=1"), Ok(("h".into(), 80, "/x?y=1".into())));
        assert_eq!(
            t("http://127.0.0.1:8080"),
            Ok(("127.0.0.1".into(), 8080, "/".into()))
        );
        assert_eq!(t("http://[::1]:81?a"), Ok(("::1".into(), 81, "/?a".into())));
        assert_eq!(t("https://h/"), Ok(("h".into(), 443, "/".into())));
        assert!(t("ftp://h/").is_err());
        assert!(t("http://:80/").is_err());
        assert!(t("http://h:99999/").is_err());
    }
}
