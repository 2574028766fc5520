//! The callback receiver: a small HTTP/1.1 server on the first shard that answers every
//! request 204 and matches each callback's `id` to an accepted message.
//!
//! Connections are bounded (`--max-callback-connections`; more are closed on accept),
//! each with a bounded read buffer. A callback whose message's 202 has not arrived yet is
//! parked in the shared matcher, not dropped (the gateway may call back before the
//! client has read its answer).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use glommio::task::JoinHandle;
use serde::Deserialize;

use super::Shared;
use super::report::HttpShardResults;
use super::wire::{self, BODY_LEN_MAX, HEAD_LEN_MAX};
use crate::load::tracker::{IdMatch, ReceiptMatch, id_key};
use tern_smpp_io::micros;

/// Read buffer a callback connection starts with.
const READ_BUF_LEN: usize = 16 * 1024;
/// Largest a callback connection's read buffer may grow to.
const READ_BUF_LEN_MAX: usize = HEAD_LEN_MAX + BODY_LEN_MAX;
/// Distinct callback states counted by name; the rest count as "other".
const CALLBACK_STATES_MAX: usize = 64;
const NO_CONTENT: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
const NO_CONTENT_CLOSE: &[u8] = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[derive(Deserialize)]
struct Callback<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    state: Option<Cow<'a, str>>,
}

/// The receiver's live tasks, so that the run can cancel them when it ends.
#[derive(Default)]
pub struct Receiver {
    accept: Option<JoinHandle<()>>,
    connections: Rc<RefCell<HashMap<u64, JoinHandle<()>>>>,
}

impl Receiver {
    /// Starts accepting callbacks on `listener`.
    pub fn start(
        listener: TcpListener,
        shared: Arc<Shared>,
        results: Rc<RefCell<HttpShardResults>>,
    ) -> Receiver {
        let connections: Rc<RefCell<HashMap<u64, JoinHandle<()>>>> = Rc::default();
        let accept = glommio::spawn_local(accept_loop(
            listener,
            shared,
            results,
            Rc::clone(&connections),
        ))
        .detach();
        Receiver {
            accept: Some(accept),
            connections,
        }
    }

    /// Stops accepting and closes every callback connection.
    pub fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.cancel();
        }
        for (_, task) in self.connections.borrow_mut().drain() {
            task.cancel();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    results: Rc<RefCell<HttpShardResults>>,
    connections: Rc<RefCell<HashMap<u64, JoinHandle<()>>>>,
) {
    let next_id = Rc::new(Cell::new(0u64));
    loop {
        let Ok(stream) = listener.accept().await else {
            // Out of descriptors or similar: wait a little rather than spin.
            glommio::timer::Timer::new(Duration::from_millis(10)).await;
            continue;
        };
        if connections.borrow().len() >= shared.config.max_callback_connections {
            drop(stream);
            continue;
        }
        let id = next_id.get();
        next_id.set(id + 1);
        let task = glommio::spawn_local({
            let shared = Arc::clone(&shared);
            let results = Rc::clone(&results);
            let connections = Rc::clone(&connections);
            async move {
                serve(stream, &shared, &results).await;
                connections.borrow_mut().remove(&id);
            }
        })
        .detach();
        connections.borrow_mut().insert(id, task);
    }
}

/// Serves one callback connection until the peer closes it or sends garbage.
async fn serve(mut stream: TcpStream, shared: &Shared, results: &RefCell<HttpShardResults>) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; READ_BUF_LEN];
    let (mut start, mut end) = (0usize, 0usize);
    let mut scratch = Vec::new();
    let mut out = Vec::new();
    loop {
        let mut closing = false;
        while !closing {
            let input = buf.get(start..end).unwrap_or_default();
            match wire::parse_request(input, &mut scratch) {
                Ok(Some(request)) => {
                    if request.is_post {
                        on_callback(request.body.slice(input, &scratch), shared, results);
                    }
                    closing = request.close;
                    out.extend_from_slice(if closing {
                        NO_CONTENT_CLOSE
                    } else {
                        NO_CONTENT
                    });
                    start += request.consumed;
                }
                Ok(None) => break,
                Err(_) => {
                    out.extend_from_slice(BAD_REQUEST);
                    closing = true;
                }
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if closing {
            return;
        }
        if start == end {
            (start, end) = (0, 0);
        } else if end == buf.len() {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            if end == buf.len() {
                if buf.len() >= READ_BUF_LEN_MAX {
                    return;
                }
                buf.resize((buf.len() * 2).min(READ_BUF_LEN_MAX), 0);
            }
        }
        let Some(space) = buf.get_mut(end..) else {
            return;
        };
        match stream.read(space).await {
            Ok(0) | Err(_) => return,
            Ok(n) => end += n,
        }
    }
}

fn on_callback(body: &[u8], shared: &Shared, results: &RefCell<HttpShardResults>) {
    let now = Instant::now();
    let mut results = results.borrow_mut();
    results.counts.callbacks_received += 1;
    let Ok(callback) = serde_json::from_slice::<Callback<'_>>(body) else {
        results.counts.callbacks_unreadable += 1;
        return;
    };
    let state = callback.state.as_deref().unwrap_or("unknown");
    let states = &mut results.counts.callback_states;
    if let Some(n) = states.get_mut(state) {
        *n += 1;
    } else if states.len() < CALLBACK_STATES_MAX {
        states.insert(state.to_owned(), 1);
    } else {
        // Bounded: a peer inventing states cannot grow the map.
        *states.entry("other".into()).or_default() += 1;
    }
    let Some(key) = id_key(callback.id.as_bytes(), IdMatch::Text) else {
        results.counts.callbacks_unreadable += 1;
        return;
    };
    let now_ns =
        u64::try_from(now.saturating_duration_since(shared.base).as_nanos()).unwrap_or(u64::MAX);
    if let ReceiptMatch::Matched { submitted_ns } = shared.tracker.receipt(key, now_ns) {
        results.counts.callbacks_matched += 1;
        let us = micros(Duration::from_nanos(now_ns.saturating_sub(submitted_ns)));
        let _ = results.callback_us.record(us.max(1));
    }
}
