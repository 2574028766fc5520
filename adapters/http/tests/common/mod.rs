//! A fake Backend that records what it got, and a server on its own glommio thread.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tern_http::{
    Accepted, AuthFailure, Backend, Credentials, Health, MessageStatus, PartStatus, Refusal,
    ServerConfig, StatusState, Submission, UserHandle,
};

/// One `submit` call as the backend saw it.
#[derive(Debug, Clone)]
pub struct Submit {
    pub user: String,
    pub messages: Vec<Submission>,
    pub idempotency_key: Option<String>,
}

/// What the fake does and what it saw, shared with the test thread.
#[derive(Debug, Default)]
pub struct Shared {
    pub submits: Vec<Submit>,
    pub refusal: Option<Refusal>,
    pub auth_busy: bool,
    pub next_id: u32,
}

pub struct FakeBackend {
    pub shared: Arc<Mutex<Shared>>,
}

impl Backend for FakeBackend {
    async fn authenticate(&self, credentials: Credentials) -> Result<UserHandle, AuthFailure> {
        if self.shared.lock().map(|s| s.auth_busy).unwrap_or(false) {
            return Err(AuthFailure::Busy);
        }
        let ok = match &credentials {
            Credentials::Password { name, password } => name == "alice" && password == "secret",
            Credentials::Bearer(token) => token == "tok",
        };
        if ok {
            Ok(UserHandle {
                index: 0,
                name: "alice".into(),
            })
        } else {
            Err(AuthFailure::Invalid)
        }
    }

    async fn submit(
        &self,
        user: &UserHandle,
        messages: Vec<Submission>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<Accepted>, Refusal> {
        let mut shared = self.shared.lock().expect("lock");
        if let Some(r) = shared.refusal.clone() {
            return Err(r);
        }
        let accepted = messages
            .iter()
            .map(|m| {
                shared.next_id += 1;
                Accepted {
                    id: format!("m{}", shared.next_id),
                    parts: m.encoded.parts.len() as u8,
                }
            })
            .collect();
        shared.submits.push(Submit {
            user: user.name.clone(),
            messages,
            idempotency_key: idempotency_key.map(str::to_owned),
        });
        Ok(accepted)
    }

    fn status(&self, _user: &UserHandle, id: &str) -> Option<MessageStatus> {
        (id == "m1").then(|| MessageStatus {
            id: "m1".into(),
            to: "4915112345".into(),
            from: "Tern".into(),
            client_ref: Some("ref-1".into()),
            state: StatusState::Delivered,
            parts: vec![PartStatus {
                part: 1,
                state: StatusState::Delivered,
                smsc_id: Some("abc".into()),
                error: None,
            }],
            timeline: vec![
                (StatusState::Accepted, 1_700_000_000_000),
                (StatusState::Delivered, 1_700_000_001_000),
            ],
            error: None,
        })
    }

    fn render_metrics(&self, out: &mut String) {
        out.push_str("# TYPE tern_engine_fake gauge\ntern_engine_fake 1\n");
    }

    fn health(&self) -> Health {
        Health {
            ready: true,
            binds_up: 1,
            binds_configured: 2,
        }
    }
}

/// A server running on its own executor thread; stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_config(|_| {})
    }

    pub fn with_config(tune: impl FnOnce(&mut ServerConfig) + Send + 'static) -> TestServer {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let (backend_shared, thread_stop) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                .make()
                .expect("executor");
            ex.run(async move {
                let listener = glommio::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                tx.send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                let mut config = ServerConfig {
                    drain_timeout_ms: 200,
                    ..ServerConfig::default()
                };
                tune(&mut config);
                let shutdown = config.shutdown.clone();
                glommio::spawn_local(async move {
                    while !thread_stop.load(Ordering::Relaxed) {
                        glommio::timer::sleep(Duration::from_millis(20)).await;
                    }
                    shutdown.trigger();
                })
                .detach();
                let backend = Rc::new(FakeBackend {
                    shared: backend_shared,
                });
                tern_http::serve(listener, backend, Rc::new(config)).await;
            });
        });
        let addr = rx.recv().expect("server address");
        TestServer {
            addr,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn submits(&self) -> Vec<Submit> {
        self.shared.lock().expect("lock").submits.clone()
    }

    pub fn refuse_with(&self, r: Option<Refusal>) {
        self.shared.lock().expect("lock").refusal = r;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Status, a header's value and the body of an answer (ureq 2 reports non-2xx as errors).
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub www_authenticate: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

pub fn reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    Reply {
        status: resp.status(),
        content_type: resp.header("content-type").unwrap_or("").to_owned(),
        retry_after: resp.header("retry-after").map(str::to_owned),
        www_authenticate: resp.header("www-authenticate").map(str::to_owned),
        body: resp.into_string().expect("body"),
    }
}

/// `Basic` header value of alice:secret.
pub const ALICE: &str = "Basic YWxpY2U6c2VjcmV0";
