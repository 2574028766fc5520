//! The tasks that move a shard's mesh traffic: one sender and one receiver per peer, the
//! forwarder (hands parts and receipts to other shards) and the acker (answers receipts
//! applied here once they are durable). They borrow the core for one step at a time,
//! never across an `.await`.

use std::rc::Rc;
use std::time::Duration;

use futures_lite::future;
use glommio::channels::channel_mesh::{Full, MeshBuilder, Senders};
use glommio::channels::shared_channel::ConnectedReceiver;
use glommio::timer::sleep;

use super::{Batch, MeshMsg};
use crate::shard::{CoreRef, unix_now_ms};

/// The mesh every shard of a node joins: one `MeshBuilder` cloned into each shard.
pub type NodeMesh = MeshBuilder<Batch, Full>;

/// The ends of the rings one shard holds, by shard index.
pub struct Ends {
    senders: Senders<Batch>,
    /// The mesh's peer id of each shard (the mesh numbers executors its own way).
    peer_of_shard: Vec<usize>,
    /// The ring from each other shard, with that shard's index.
    streams: Vec<(usize, ConnectedReceiver<Batch>)>,
}

/// A mesh for `shards` shards with rings of [`super::RING_SLOTS`] batches.
pub fn node_mesh(shards: usize) -> NodeMesh {
    MeshBuilder::full(shards, super::RING_SLOTS)
}

/// Joins the mesh as shard `shard` (waits for every shard to join) and learns which
/// peer is which shard: glommio numbers peers by executor id, which need not follow
/// shard order, so each shard's first message on every ring is a [`MeshMsg::Hello`]
/// naming it. `None` if joining failed.
pub async fn join(mesh: NodeMesh, shard: usize) -> Option<Ends> {
    let (senders, mut receivers) = mesh.join().await.ok()?;
    let me = senders.peer_id();
    let peers = senders.nr_consumers();
    let hello = u8::try_from(shard).ok()?;
    for peer in (0..peers).filter(|&p| p != me) {
        // Rings are empty here: this never waits.
        let batch = vec![MeshMsg::Hello { shard: hello }];
        senders.send_to(peer, batch).await.ok()?;
    }
    let mut peer_of_shard = vec![usize::MAX; peers];
    let mut streams = Vec::new();
    for (peer, stream) in receivers.streams() {
        let first = stream.recv().await?;
        let Some(&MeshMsg::Hello { shard: from }) = first.first() else {
            return None;
        };
        let from = usize::from(from);
        *peer_of_shard.get_mut(from)? = peer;
        streams.push((from, stream));
    }
    Some(Ends {
        senders,
        peer_of_shard,
        streams,
    })
}

/// Longest the forwarder sleeps without a kick: other shards' binds and sessions come and
/// go without telling this one, and this bounds how late a queue notices.
const FORWARD_IDLE_MS: u64 = 50;

/// Spawns this shard's mesh tasks; they live as long as the shard's executor.
pub fn spawn(core: &CoreRef, ends: Ends) {
    glommio::spawn_local(forwarder(Rc::clone(core))).detach();
    glommio::spawn_local(acker(Rc::clone(core))).detach();
    let senders = Rc::new(ends.senders);
    for (shard, &peer) in ends.peer_of_shard.iter().enumerate() {
        if peer == usize::MAX {
            continue; // this shard itself
        }
        let task = sender(Rc::clone(core), Rc::clone(&senders), shard, peer);
        glommio::spawn_local(task).detach();
    }
    for (shard, stream) in ends.streams {
        let core = Rc::clone(core);
        glommio::spawn_local(async move {
            // One batch at a time under one borrow: the peer's whole slot is applied
            // before anything else on this shard runs.
            while let Some(batch) = stream.recv().await {
                let mut core = core.borrow_mut();
                for msg in batch {
                    core.on_mesh(shard, msg);
                }
            }
        })
        .detach();
    }
}

/// Drains this shard's queue for `shard` into its ring (mesh peer `peer`), a batch per
/// slot; waits while the ring is full (the queue then holds what producers already
/// admitted).
async fn sender(core: CoreRef, senders: Rc<Senders<Batch>>, shard: usize, peer: usize) {
    loop {
        future::poll_fn(|cx| core.borrow_mut().poll_outbound_kick(shard, cx)).await;
        loop {
            let batch = core.borrow_mut().take_outbound(shard);
            if batch.is_empty() {
                break;
            }
            if senders.send_to(peer, batch).await.is_err() {
                // The peer is gone (shutting down): nothing more will reach it.
                return;
            }
        }
    }
}

/// Hands parts and receipts to other shards whenever kicked, and at least every
/// [`FORWARD_IDLE_MS`] or when the next retry falls due.
async fn forwarder(core: CoreRef) {
    loop {
        let next_due_ms = core.borrow_mut().forward();
        let wait_ms = next_due_ms
            .map_or(FORWARD_IDLE_MS, |at| at.saturating_sub(unix_now_ms()))
            .min(FORWARD_IDLE_MS);
        let kicked = future::poll_fn(|cx| core.borrow_mut().poll_forward_kick(cx));
        future::or(kicked, sleep(Duration::from_millis(wait_ms))).await;
    }
}

/// Waits for the WAL to make receipts applied here durable, then lets the other shards'
/// binds that received them answer their SMSC.
async fn acker(core: CoreRef) {
    loop {
        future::poll_fn(|cx| core.borrow_mut().poll_ack_kick(cx)).await;
        loop {
            let waiting = core.borrow_mut().release_durable_acks();
            let Some(lsn) = waiting else {
                break;
            };
            let Some(durable) = core.borrow().durable(lsn) else {
                break; // the WAL is closed: the SMSC will send those receipts again
            };
            if durable.await.is_err() {
                break;
            }
        }
    }
}
