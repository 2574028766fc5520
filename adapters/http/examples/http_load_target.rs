//! A one-shard server over an in-memory backend, to measure the HTTP layer alone (parsing,
//! encoding, answers) with an external load tool. Not a gateway: nothing is stored.
//!
//! `cargo run --release -p tern-http --example http_load_target -- 127.0.0.1:18080`

use std::cell::Cell;
use std::rc::Rc;

use tern_http::{
    Accepted, AuthFailure, Backend, Credentials, Health, MessageStatus, Refusal, ServerConfig,
    Submission, UserHandle,
};

/// Accepts every message from anyone, numbering them.
struct CountingBackend {
    next_id: Cell<u64>,
}

impl Backend for CountingBackend {
    async fn authenticate(&self, credentials: Credentials) -> Result<UserHandle, AuthFailure> {
        let name = match credentials {
            Credentials::Password { name, .. } => name,
            Credentials::Bearer(_) => "bearer".to_owned(),
        };
        Ok(UserHandle { index: 0, name })
    }

    async fn submit(
        &self,
        _user: &UserHandle,
        messages: Vec<Submission>,
        _idempotency_key: Option<&str>,
    ) -> Result<Vec<Accepted>, Refusal> {
        Ok(messages
            .iter()
            .map(|m| {
                let id = self.next_id.get();
                self.next_id.set(id + 1);
                Accepted {
                    id: id.to_string(),
                    parts: m.encoded.parts.len() as u8,
                }
            })
            .collect())
    }

    fn status(&self, _user: &UserHandle, _id: &str) -> Option<MessageStatus> {
        None
    }

    fn render_metrics(&self, out: &mut String) {
        out.push_str(&format!(
            "tern_load_target_accepted_total {}\n",
            self.next_id.get()
        ));
    }

    fn health(&self) -> Health {
        Health {
            ready: true,
            binds_up: 0,
            binds_configured: 0,
        }
    }
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".to_owned());
    let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .make()
        .expect("executor");
    ex.run(async move {
        let listener = glommio::net::TcpListener::bind(&addr).expect("bind");
        eprintln!("listening on {addr}");
        let backend = Rc::new(CountingBackend {
            next_id: Cell::new(1),
        });
        tern_http::serve(listener, backend, Rc::new(ServerConfig::default())).await;
    });
}
