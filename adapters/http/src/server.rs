//! The HTTP server of one shard: accept, limits, routing, answers.
//!
//! [`serve`] accepts on the shard's listener (the engine binds one per shard with
//! SO_REUSEPORT, so the kernel spreads connections) and runs each connection as a local
//! task with hyper's HTTP/1.1 server over [`crate::io::HyperStream`], keep-alive on.
//! It returns once [`ServerConfig::shutdown`] is triggered and the open connections have
//! finished their requests (each asked to close after its current one), or after
//! `drain_timeout_ms`.
//!
//! # Limits (all in [`ServerConfig`])
//! - Connections per shard: the one over `max_connections` gets a raw
//!   `503` with `Retry-After` and is closed, before hyper is involved.
//! - Request head: `header_read_timeout_ms` from the connection's start or the end of the
//!   previous response to the call of the handler (a watchdog per connection; hyper's own
//!   header timer needs a `Send` timer, which a glommio timer is not). It is also the idle
//!   keep-alive timeout. `max_header_octets` bounds hyper's read buffer.
//! - Body: `max_body_octets` (413 beyond, checked on Content-Length and while reading).
//! - Batch: `max_batch_messages` submissions per request, recipients counted.
//!
//! # Answers
//! `/v1` answers RFC 9457 problems (`application/problem+json`: `type`, `title`,
//! `status`, `detail`, and `field` for 400s); 401 carries `WWW-Authenticate`; 429 and 503
//! carry `Retry-After`. Kannel's and Jasmin's routes answer in their own words (see
//! [`crate::kannel`], [`crate::jasmin`]).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use futures_lite::AsyncWriteExt;
use glommio::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::api::{
    Accepted, AuthFailure, Backend, Credentials, MessageStatus, Refusal, StatusState, Submission,
    UserHandle,
};
use crate::form::Params;
use crate::metrics::{Histogram, MetricKind, MetricsWriter};
use crate::v1::{FieldError, ParseContext};
use crate::{jasmin, kannel, time, v1};

/// The OpenAPI 3.1 document served at `/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Longest `Idempotency-Key` accepted, in octets.
pub const MAX_IDEMPOTENCY_KEY_OCTETS: usize = 255;

/// Settings of one shard's server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body (default 1 MiB).
    pub max_body_octets: usize,
    /// Most submissions one request may make, recipients counted (default 1,000).
    pub max_batch_messages: usize,
    /// Time allowed for a request head, and idle time of a kept-alive connection
    /// (default 10 s).
    pub header_read_timeout_ms: u64,
    /// Largest request head hyper buffers (default 16 KiB, at least 8 KiB).
    pub max_header_octets: usize,
    /// Open connections per shard (default 1,024); more are answered 503 and closed.
    pub max_connections: usize,
    /// `Retry-After` sent with the connection-limit 503 (default 1 s).
    pub busy_retry_after_s: u32,
    /// Time given to open connections to finish after shutdown (default 5 s).
    pub drain_timeout_ms: u64,
    /// Kannel's `global-sender`: the source used when a sendsms request has no `from`.
    pub default_sender: Option<String>,
    /// Triggering it makes [`serve`] stop accepting and return.
    pub shutdown: Shutdown,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_octets: 1 << 20,
            max_batch_messages: 1000,
            header_read_timeout_ms: 10_000,
            max_header_octets: 16 * 1024,
            max_connections: 1024,
            busy_retry_after_s: 1,
            drain_timeout_ms: 5_000,
            default_sender: None,
            shutdown: Shutdown::new(),
        }
    }
}

/// A one-shot stop signal for [`serve`] (single-threaded: clone it within the shard).
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Rc<ShutdownInner>,
}

#[derive(Debug, Default)]
struct ShutdownInner {
    fired: Cell<bool>,
    next_waiter: Cell<u64>,
    /// One entry per pending [`Shutdown::wait`] future, removed when it is dropped, so the
    /// map holds at most the live connections plus the accept loop.
    wakers: RefCell<HashMap<u64, Waker>>,
}

impl Shutdown {
    /// A signal not yet fired.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Fires the signal and wakes every waiter.
    pub fn trigger(&self) {
        self.inner.fired.set(true);
        let wakers: Vec<Waker> = self
            .inner
            .wakers
            .borrow_mut()
            .drain()
            .map(|(_, w)| w)
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    /// Whether it fired.
    pub fn is_triggered(&self) -> bool {
        self.inner.fired.get()
    }

    /// Completes once the signal fires.
    pub fn wait(&self) -> ShutdownWait {
        let id = self.inner.next_waiter.get();
        self.inner.next_waiter.set(id.wrapping_add(1));
        ShutdownWait {
            inner: self.inner.clone(),
            id,
        }
    }
}

/// The future of [`Shutdown::wait`].
#[derive(Debug)]
pub struct ShutdownWait {
    inner: Rc<ShutdownInner>,
    id: u64,
}

impl Future for ShutdownWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.fired.get() {
            return Poll::Ready(());
        }
        self.inner
            .wakers
            .borrow_mut()
            .insert(self.id, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for ShutdownWait {
    fn drop(&mut self) {
        self.inner.wakers.borrow_mut().remove(&self.id);
    }
}

/// Which route a request took (the `route` label of the request metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Route {
    Messages,
    Batch,
    Status,
    OpenApi,
    Metrics,
    Health,
    Kannel,
    Jasmin,
    Unknown,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Route::Messages => "/v1/messages",
            Route::Batch => "/v1/messages/batch",
            Route::Status => "/v1/messages/{id}",
            Route::OpenApi => "/v1/openapi.json",
            Route::Metrics => "/metrics",
            Route::Health => "/health",
            Route::Kannel => "/cgi-bin/sendsms",
            Route::Jasmin => "/send",
            Route::Unknown => "other",
        }
    }

    fn of(path: &str) -> Route {
        match path {
            "/v1/messages" => Route::Messages,
            "/v1/messages/batch" => Route::Batch,
            "/v1/openapi.json" => Route::OpenApi,
            "/metrics" => Route::Metrics,
            "/health" => Route::Health,
            "/cgi-bin/sendsms" => Route::Kannel,
            "/send" => Route::Jasmin,
            p if p
                .strip_prefix("/v1/messages/")
                .is_some_and(|id| !id.is_empty() && !id.contains('/')) =>
            {
                Route::Status
            }
            _ => Route::Unknown,
        }
    }

    fn allows(self, method: &Method) -> bool {
        match self {
            Route::Messages | Route::Batch => method == Method::POST,
            Route::Status | Route::OpenApi | Route::Metrics | Route::Health => {
                method == Method::GET
            }
            Route::Kannel | Route::Jasmin => method == Method::GET || method == Method::POST,
            Route::Unknown => true,
        }
    }

    fn allow_header(self) -> &'static str {
        match self {
            Route::Messages | Route::Batch => "POST",
            Route::Kannel | Route::Jasmin => "GET, POST",
            _ => "GET",
        }
    }
}

/// Request counts by route and status and latency by route; bounded because both label
/// sets are (9 routes, the statuses this server writes).
#[derive(Debug, Default)]
struct RequestStats {
    counts: BTreeMap<(Route, u16), u64>,
    latency: BTreeMap<Route, Histogram>,
    connections_refused: u64,
}

struct State<B> {
    backend: Rc<B>,
    config: Rc<ServerConfig>,
    active: Cell<usize>,
    next_ref: Cell<u8>,
    stats: RefCell<RequestStats>,
}

type Answer = Response<Full<Bytes>>;

/// Serves HTTP on `listener` until `config.shutdown` fires (see the module docs).
pub async fn serve<B: Backend>(listener: TcpListener, backend: Rc<B>, config: Rc<ServerConfig>) {
    let state = Rc::new(State {
        backend,
        config: config.clone(),
        active: Cell::new(0),
        next_ref: Cell::new(0),
        stats: RefCell::new(RequestStats::default()),
    });
    futures_lite::future::or(accept_loop(&listener, &state), config.shutdown.wait()).await;
    let deadline = time::instant_after(
        Instant::now(),
        Duration::from_millis(config.drain_timeout_ms),
    );
    while state.active.get() > 0 && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
}

async fn accept_loop<B: Backend>(listener: &TcpListener, state: &Rc<State<B>>) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off a little instead of spinning on the error.
                tracing::warn!(error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if state.active.get() >= state.config.max_connections {
            state.stats.borrow_mut().connections_refused += 1;
            // Inline and time-bounded, so a flood of refusals cannot pile up tasks: a fresh
            // socket takes these few octets at once.
            futures_lite::future::or(
                refuse(stream, state.config.busy_retry_after_s),
                glommio::timer::sleep(Duration::from_millis(100)),
            )
            .await;
            continue;
        }
        state.active.set(state.active.get() + 1);
        let state = state.clone();
        glommio::spawn_local(async move {
            connection(stream, &state).await;
            state.active.set(state.active.get().saturating_sub(1));
        })
        .detach();
    }
}

async fn refuse(mut stream: TcpStream, retry_after_s: u32) {
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {retry_after_s}\r\n\
         Connection: close\r\nContent-Length: 0\r\n\r\n"
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.close().await;
}

async fn watchdog(deadline: &Cell<Option<Instant>>, timeout: Duration) {
    loop {
        let now = Instant::now();
        match deadline.get() {
            Some(d) if now >= d => return,
            Some(d) => glommio::timer::sleep(d - now).await,
            None => glommio::timer::sleep(timeout).await,
        }
    }
}

async fn connection<B: Backend>(stream: TcpStream, state: &Rc<State<B>>) {
    // Small answers must not wait for Nagle and the peer's delayed ACK.
    let _ = stream.set_nodelay(true);
    let timeout = Duration::from_millis(state.config.header_read_timeout_ms);
    let deadline = Rc::new(Cell::new(Some(time::instant_after(
        Instant::now(),
        timeout,
    ))));
    let service_state = state.clone();
    let service_deadline = deadline.clone();
    let service = hyper::service::service_fn(move |req| {
        let state = service_state.clone();
        let deadline = service_deadline.clone();
        async move {
            deadline.set(None);
            let answer = handle(&state, req).await;
            deadline.set(Some(time::instant_after(Instant::now(), timeout)));
            Ok::<_, Infallible>(answer)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(true)
        .header_read_timeout(None)
        .max_buf_size(state.config.max_header_octets.max(8192));
    let mut conn = pin!(builder.serve_connection(crate::io::HyperStream::new(stream), service));
    let stopped = {
        let serving = async {
            let _ = conn.as_mut().await;
            false
        };
        let stop = async {
            futures_lite::future::or(watchdog(&deadline, timeout), async {
                state.config.shutdown.wait().await;
            })
            .await;
            true
        };
        futures_lite::future::or(serving, stop).await
    };
    if stopped && state.config.shutdown.is_triggered() {
        conn.as_mut().graceful_shutdown();
        let drain = Duration::from_millis(state.config.drain_timeout_ms);
        futures_lite::future::or(
            async {
                let _ = conn.as_mut().await;
            },
            glommio::timer::sleep(drain),
        )
        .await;
    }
}

async fn handle<B: Backend>(state: &State<B>, req: Request<Incoming>) -> Answer {
    let started = Instant::now();
    let route = Route::of(req.uri().path());
    let answer = if route.allows(req.method()) {
        dispatch(state, route, req).await
    } else {
        let mut a = problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this route does not take that method",
            None,
        );
        set_header(&mut a, header::ALLOW, route.allow_header());
        a
    };
    let mut stats = state.stats.borrow_mut();
    *stats
        .counts
        .entry((route, answer.status().as_u16()))
        .or_insert(0) += 1;
    stats
        .latency
        .entry(route)
        .or_insert_with(Histogram::latency_seconds)
        .observe(started.elapsed().as_secs_f64());
    answer
}

async fn dispatch<B: Backend>(state: &State<B>, route: Route, req: Request<Incoming>) -> Answer {
    match route {
        Route::Messages | Route::Batch => v1_submit(state, route, req).await,
        Route::Status => v1_status(state, req).await,
        Route::OpenApi => respond(StatusCode::OK, "application/json", OPENAPI_JSON),
        Route::Metrics => metrics(state),
        Route::Health => health(state),
        Route::Kannel => kannel_send(state, req).await,
        Route::Jasmin => jasmin_send(state, req).await,
        Route::Unknown => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such route",
            None,
        ),
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut a = Response::new(Full::new(body.into()));
    *a.status_mut() = status;
    a.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    a
}

fn set_header(answer: &mut Answer, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        answer.headers_mut().insert(name, v);
    }
}

fn retry_after(mut answer: Answer, seconds: u32) -> Answer {
    set_header(
        &mut answer,
        header::RETRY_AFTER,
        &seconds.max(1).to_string(),
    );
    answer
}

fn problem(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: &str,
    field: Option<&str>,
) -> Answer {
    let mut doc = json!({
        "type": format!("urn:tern:problem:{slug}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Some(f), Some(obj)) = (field, doc.as_object_mut()) {
        obj.insert("field".into(), Value::from(f));
    }
    respond(status, "application/problem+json", doc.to_string())
}

fn field_problem(e: &FieldError) -> Answer {
    problem(
        StatusCode::BAD_REQUEST,
        "invalid-field",
        "Invalid field",
        &e.detail,
        Some(&e.field),
    )
}

enum BodyError {
    TooLarge,
    Broken,
}

async fn read_body(
    req: Request<Incoming>,
    max: usize,
) -> Result<(hyper::http::request::Parts, Bytes), BodyError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let (parts, body) = req.into_parts();
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok((parts, collected.to_bytes())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Broken),
    }
}

fn body_problem(e: BodyError, max: usize) -> Answer {
    match e {
        BodyError::TooLarge => problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Body too large",
            &format!("the body exceeds {max} octets"),
            None,
        ),
        BodyError::Broken => problem(
            StatusCode::BAD_REQUEST,
            "bad-body",
            "Bad body",
            "the body could not be read",
            None,
        ),
    }
}

/// Credentials from `Authorization: Basic …` or `Bearer …`.
fn header_credentials(headers: &hyper::HeaderMap) -> Option<Credentials> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let token = rest.trim();
        return (!token.is_empty()).then(|| Credentials::Bearer(token.to_owned()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    Some(Credentials::Password {
        name: name.to_owned(),
        password: password.to_owned(),
    })
}

fn unauthorized(detail: &str) -> Answer {
    let mut a = problem(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
        detail,
        None,
    );
    set_header(
        &mut a,
        header::WWW_AUTHENTICATE,
        "Basic realm=\"tern\", Bearer realm=\"tern\"",
    );
    a
}

async fn v1_user<B: Backend>(
    state: &State<B>,
    headers: &hyper::HeaderMap,
) -> Result<UserHandle, Answer> {
    let Some(credentials) = header_credentials(headers) else {
        return Err(unauthorized(
            "HTTP Basic or Bearer credentials are required",
        ));
    };
    match state.backend.authenticate(credentials).await {
        Ok(user) => Ok(user),
        Err(AuthFailure::Invalid) => Err(unauthorized("invalid credentials")),
        Err(AuthFailure::Busy) => Err(retry_after(
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                "authentication is busy, retry",
                None,
            ),
            1,
        )),
    }
}

fn refusal_problem(r: &Refusal) -> Answer {
    match r {
        Refusal::Throttled { retry_after_s } => retry_after(
            problem(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "Too many requests",
                "the user is over its throughput limit",
                None,
            ),
            *retry_after_s,
        ),
        Refusal::Overloaded { retry_after_s } => retry_after(
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                "the gateway is full, retry later",
                None,
            ),
            *retry_after_s,
        ),
        Refusal::Unavailable(why) => retry_after(
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Unavailable",
                why,
                None,
            ),
            1,
        ),
        Refusal::NoRoute(to) => problem(
            StatusCode::BAD_REQUEST,
            "no-route",
            "No route",
            &format!("no route for {to}"),
            Some("to"),
        ),
        Refusal::Invalid { field, detail } => problem(
            StatusCode::BAD_REQUEST,
            "invalid-field",
            "Invalid field",
            detail,
            Some(field),
        ),
        Refusal::IdempotencyConflict => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-conflict",
            "Idempotency key reused",
            "the Idempotency-Key was used before with a different request",
            None,
        ),
        Refusal::IdempotencyInProgress => retry_after(
            problem(
                StatusCode::CONFLICT,
                "idempotency-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is still being accepted; retry shortly",
                None,
            ),
            1,
        ),
    }
}

fn is_json(headers: &hyper::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|ct| ct == "application/json" || ct.ends_with("+json"))
}

async fn v1_submit<B: Backend>(state: &State<B>, route: Route, req: Request<Incoming>) -> Answer {
    let user = match v1_user(state, req.headers()).await {
        Ok(u) => u,
        Err(a) => return a,
    };
    if !is_json(req.headers()) {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "the body must be application/json",
            None,
        );
    }
    let idempotency_key = match req.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_OCTETS => Some(k.to_owned()),
        Some(_) => {
            return field_problem(&FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ));
        }
    };
    let max = state.config.max_body_octets;
    let (_, body) = match read_body(req, max).await {
        Ok(b) => b,
        Err(e) => return body_problem(e, max),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return field_problem(&FieldError::new("body", format!("malformed JSON: {e}"))),
    };
    let ctx = ParseContext {
        max_messages: state.config.max_batch_messages,
        next_ref: Cell::new(state.next_ref.get()),
        now_ms: time::now_unix_ms(),
    };
    let parsed = match route {
        Route::Batch => v1::parse_batch(&value, &ctx),
        _ => v1::parse_message(&value, "", None, &ctx),
    };
    state.next_ref.set(ctx.next_ref.get());
    let submissions = match parsed {
        Ok(s) => s,
        Err(e) => return field_problem(&e),
    };
    let recipients: Vec<String> = submissions.iter().map(|s| s.to.digits.clone()).collect();
    match state
        .backend
        .submit(&user, submissions, idempotency_key.as_deref())
        .await
    {
        Ok(accepted) => respond(
            StatusCode::ACCEPTED,
            "application/json",
            accepted_json(&recipients, &accepted),
        ),
        Err(r) => refusal_problem(&r),
    }
}

fn accepted_json(recipients: &[String], accepted: &[Accepted]) -> String {
    let items: Vec<Value> = recipients
        .iter()
        .enumerate()
        .map(|(i, to)| match accepted.get(i) {
            Some(a) => json!({"id": a.id, "to": to, "parts": a.parts}),
            // The backend stopped part-way (see Backend::submit): the rest were not taken.
            None => json!({"id": null, "to": to, "parts": 0, "error": "not accepted; retry this message"}),
        })
        .collect();
    json!({ "messages": items }).to_string()
}

fn state_name(s: StatusState) -> &'static str {
    match s {
        StatusState::Accepted => "accepted",
        StatusState::Queued => "queued",
        StatusState::Sent => "sent",
        StatusState::Delivered => "delivered",
        StatusState::Failed => "failed",
        StatusState::Expired => "expired",
        StatusState::Rejected => "rejected",
        StatusState::Cancelled => "cancelled",
    }
}

fn status_json(s: &MessageStatus) -> String {
    let parts: Vec<Value> = s
        .parts
        .iter()
        .map(|p| json!({"part": p.part, "state": state_name(p.state), "smsc_id": p.smsc_id, "error": p.error}))
        .collect();
    let timeline: Vec<Value> = s
        .timeline
        .iter()
        .map(|(st, at)| json!({"state": state_name(*st), "at": time::format_rfc3339_ms(*at)}))
        .collect();
    json!({
        "id": s.id, "to": s.to, "from": s.from, "reference": s.client_ref,
        "state": state_name(s.state), "error": s.error, "parts": parts, "timeline": timeline,
    })
    .to_string()
}

async fn v1_status<B: Backend>(state: &State<B>, req: Request<Incoming>) -> Answer {
    let user = match v1_user(state, req.headers()).await {
        Ok(u) => u,
        Err(a) => return a,
    };
    let id = req.uri().path().trim_start_matches("/v1/messages/");
    match state.backend.status(&user, id) {
        Some(s) => respond(StatusCode::OK, "application/json", status_json(&s)),
        None => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such message for this user",
            None,
        ),
    }
}

fn metrics<B: Backend>(state: &State<B>) -> Answer {
    let mut out = String::new();
    state.backend.render_metrics(&mut out);
    let stats = state.stats.borrow();
    let mut w = MetricsWriter::new(&mut out);
    w.family(
        "tern_http_requests_total",
        "HTTP requests answered, by route and status.",
        MetricKind::Counter,
    );
    for ((route, status), n) in &stats.counts {
        w.sample_u64(
            "tern_http_requests_total",
            &[("route", route.label()), ("status", &status.to_string())],
            *n,
        );
    }
    w.family(
        "tern_http_request_duration_seconds",
        "Time from request head to answer, by route.",
        MetricKind::Histogram,
    );
    for (route, h) in &stats.latency {
        w.histogram(
            "tern_http_request_duration_seconds",
            &[("route", route.label())],
            h,
        );
    }
    w.family(
        "tern_http_connections_open",
        "Open HTTP connections on this shard.",
        MetricKind::Gauge,
    );
    w.sample_u64("tern_http_connections_open", &[], state.active.get() as u64);
    w.family(
        "tern_http_connections_refused_total",
        "Connections refused over the per-shard limit.",
        MetricKind::Counter,
    );
    w.sample_u64(
        "tern_http_connections_refused_total",
        &[],
        stats.connections_refused,
    );
    respond(StatusCode::OK, "text/plain; version=0.0.4", out)
}

fn health<B: Backend>(state: &State<B>) -> Answer {
    let h = state.backend.health();
    let status = if h.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body =
        json!({"ready": h.ready, "binds_up": h.binds_up, "binds_configured": h.binds_configured});
    respond(status, "application/json", body.to_string())
}

fn plain(status: StatusCode, content_type: &'static str, text: impl Into<Bytes>) -> Answer {
    respond(status, content_type, text)
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

async fn kannel_send<B: Backend>(state: &State<B>, req: Request<Incoming>) -> Answer {
    const HTML: &str = "text/html";
    let max = state.config.max_body_octets;
    let query = req.uri().query().unwrap_or("").as_bytes().to_vec();
    let (parts, body) = match read_body(req, max).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                HTML,
                "Request entity too large",
            );
        }
        Err(BodyError::Broken) => {
            return plain(
                StatusCode::BAD_REQUEST,
                HTML,
                "Charset or body misformed, rejected",
            );
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()));
    let params = kannel::gather(&query, content_type, headers, &body);
    let temporal = |s: u32| {
        retry_after(
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                HTML,
                kannel::TEMPORAL_FAILURE,
            ),
            s,
        )
    };
    let Some(credentials) = kannel::credentials(&params) else {
        return plain(StatusCode::FORBIDDEN, HTML, kannel::AUTH_FAILED);
    };
    let user = match state.backend.authenticate(credentials).await {
        Ok(u) => u,
        Err(AuthFailure::Invalid) => {
            return plain(StatusCode::FORBIDDEN, HTML, kannel::AUTH_FAILED);
        }
        Err(AuthFailure::Busy) => return temporal(1),
    };
    let next_ref = Cell::new(state.next_ref.get());
    let parsed = kannel::parse(
        &params,
        state.config.default_sender.as_deref(),
        time::now_unix_ms(),
        &next_ref,
    );
    state.next_ref.set(next_ref.get());
    let submissions = match parsed {
        Ok(s) => s,
        Err(r) => return plain(status_of(r.status), HTML, r.text),
    };
    if submissions.len() > state.config.max_batch_messages {
        return plain(
            StatusCode::BAD_REQUEST,
            HTML,
            "Number(s) has/have been denied by white- and/or black-lists.",
        );
    }
    match state.backend.submit(&user, submissions, None).await {
        Ok(_) => plain(StatusCode::ACCEPTED, HTML, kannel::ACCEPTED),
        Err(Refusal::Throttled { retry_after_s } | Refusal::Overloaded { retry_after_s }) => {
            temporal(retry_after_s)
        }
        Err(Refusal::Unavailable(_)) => temporal(1),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, HTML, "Sending failed."),
    }
}

async fn jasmin_params(req: Request<Incoming>, max: usize) -> Result<Params, Answer> {
    const TEXT: &str = "text/plain";
    let mut params = Params::parse(req.uri().query().unwrap_or("").as_bytes());
    let json = is_json(req.headers());
    let (_, body) = match read_body(req, max).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return Err(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                TEXT,
                "Error \"Request entity too large\"",
            ));
        }
        Err(BodyError::Broken) => {
            return Err(plain(
                StatusCode::BAD_REQUEST,
                TEXT,
                "Error \"Bad request body\"",
            ));
        }
    };
    if json {
        match jasmin::params_from_json(&body) {
            Ok(p) => params.extend(p),
            Err(r) => return Err(plain(status_of(r.status), TEXT, r.body())),
        }
    } else if !body.is_empty() {
        params.extend(Params::parse(&body));
    }
    Ok(params)
}

async fn jasmin_send<B: Backend>(state: &State<B>, req: Request<Incoming>) -> Answer {
    const TEXT: &str = "text/plain";
    let params = match jasmin_params(req, state.config.max_body_octets).await {
        Ok(p) => p,
        Err(a) => return a,
    };
    let error =
        |status: StatusCode, reason: &str| plain(status, TEXT, format!("Error \"{reason}\""));
    let credentials = match jasmin::validate(&params) {
        Ok(c) => c,
        Err(r) => return plain(status_of(r.status), TEXT, r.body()),
    };
    let name = match &credentials {
        Credentials::Password { name, .. } => name.clone(),
        Credentials::Bearer(_) => String::new(),
    };
    let user = match state.backend.authenticate(credentials).await {
        Ok(u) => u,
        Err(AuthFailure::Invalid) => {
            return error(
                StatusCode::FORBIDDEN,
                &format!("Authentication failure for username:{name}"),
            );
        }
        Err(AuthFailure::Busy) => {
            return retry_after(
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Server busy, try again later",
                ),
                1,
            );
        }
    };
    let next_ref = Cell::new(state.next_ref.get());
    let parsed = jasmin::parse(&params, time::now_unix_ms(), &next_ref);
    state.next_ref.set(next_ref.get());
    let submission: Submission = match parsed {
        Ok(s) => s,
        Err(r) => return plain(status_of(r.status), TEXT, r.body()),
    };
    match state.backend.submit(&user, vec![submission], None).await {
        Ok(accepted) => match accepted.first() {
            Some(a) => plain(StatusCode::OK, TEXT, format!("Success \"{}\"", a.id)),
            None => retry_after(
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Server busy, try again later",
                ),
                1,
            ),
        },
        Err(Refusal::NoRoute(_)) => error(StatusCode::PRECONDITION_FAILED, "No route found"),
        Err(Refusal::Throttled { retry_after_s }) => retry_after(
            error(StatusCode::FORBIDDEN, "User throughput exceeded"),
            retry_after_s,
        ),
        Err(Refusal::Overloaded { retry_after_s }) => retry_after(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Server busy, try again later",
            ),
            retry_after_s,
        ),
        Err(Refusal::Unavailable(_)) => retry_after(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Server busy, try again later",
            ),
            1,
        ),
        Err(Refusal::Invalid { detail, .. }) => error(StatusCode::BAD_REQUEST, &detail),
        Err(Refusal::IdempotencyConflict | Refusal::IdempotencyInProgress) => {
            error(StatusCode::BAD_REQUEST, "Duplicate request")
        }
    }
}
