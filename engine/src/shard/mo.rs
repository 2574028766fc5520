//! The core's side of MO messages (see [`crate::mo`] for the design): logging an MO from
//! upstream, handing it to sessions here or on other shards, callbacks, recovery.

use tern_smpp::CommandStatus;
use tern_wal::{Lsn, WalError};

use crate::config::MoUnrouted;
use crate::mesh::{MeshMsg, receipt_credit};
use crate::message::{ConnectorId, MessageId, MoRecord, UserId, kind};
use crate::mo::Inbound;

use super::{Core, unix_now_ms, wake_all};

/// What became of an MO from upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoReceived {
    /// Logged at this LSN: answer the SMSC OK once it is durable.
    Logged(Lsn),
    /// Refused: answer the SMSC with this status.
    Refused(CommandStatus),
}

impl Core {
    /// An MO from a bind of `connector`: routed, bounded, logged (see [`crate::mo`]).
    pub fn mo_receive(&mut self, connector: usize, mo: &Inbound<'_>) -> MoReceived {
        let wire_connector = u16::try_from(connector).unwrap_or(u16::MAX);
        let received = self.mo_log(wire_connector, mo);
        let m = self.metrics.connector(wire_connector);
        match received {
            MoReceived::Logged(_) => m.mo_received.inc(),
            MoReceived::Refused(_) => m.mo_refused.inc(),
        }
        received
    }

    fn mo_log(&mut self, connector: u16, mo: &Inbound<'_>) -> MoReceived {
        let destination = std::str::from_utf8(mo.destination).unwrap_or("");
        let Some(user) = self.snapshot.router.route_mo(destination) else {
            let unrouted = self
                .snapshot
                .config
                .connectors
                .get(usize::from(connector))
                .map(|c| c.mo_unrouted)
                .unwrap_or_default();
            tracing::info!(destination, "MO without a route refused");
            return MoReceived::Refused(match unrouted {
                MoUnrouted::Permanent => CommandStatus::ESME_RX_P_APPN,
                MoUnrouted::Transient => CommandStatus::ESME_RX_T_APPN,
            });
        };
        let u = user.index();
        let user_id = u32::try_from(u).unwrap_or(u32::MAX);
        if !self.mo.has_room(u) {
            self.metrics.user(user_id).mo_refused.inc();
            return MoReceived::Refused(CommandStatus::ESME_RMSGQFUL);
        }
        let sequence = self.mo.next_sequence();
        let Ok(id) = MessageId::new(self.shard, sequence) else {
            return MoReceived::Refused(CommandStatus::ESME_RSYSERR);
        };
        let record = MoRecord {
            id,
            user: UserId(user_id),
            connector: ConnectorId(connector),
            received_at_ms: unix_now_ms(),
            source_ton: mo.source_ton,
            source_npi: mo.source_npi,
            source: mo.source.to_vec(),
            dest_ton: mo.dest_ton,
            dest_npi: mo.dest_npi,
            destination: mo.destination.to_vec(),
            service_type: mo.service_type.to_vec(),
            esm_class: mo.esm_class,
            protocol_id: mo.protocol_id,
            priority: mo.priority,
            data_coding: mo.data_coding,
            short_message: mo.short_message.to_vec(),
            tlvs: mo.tlvs.to_vec(),
        };
        self.scratch.clear();
        if let Err(e) = record.encode(&mut self.scratch) {
            // The codec's bounds are the PDU's: a peer cannot get here, but answer anyway.
            tracing::warn!(error = %e, "MO record does not encode");
            return MoReceived::Refused(CommandStatus::ESME_RX_P_APPN);
        }
        let appended = match self.wal.as_mut() {
            Some(wal) => wal.append(kind::MO, &self.scratch),
            None => Err(WalError::Closed),
        };
        let lsn = match appended {
            Ok(lsn) => lsn,
            Err(WalError::Full { .. }) => return MoReceived::Refused(CommandStatus::ESME_RMSGQFUL),
            Err(e) => {
                tracing::warn!(error = %e, "MO append failed");
                return MoReceived::Refused(CommandStatus::ESME_RX_T_APPN);
            }
        };
        self.metrics.user(user_id).mo_received.inc();
        self.mo_place(record, lsn);
        MoReceived::Logged(lsn)
    }

    fn mo_place(&mut self, record: MoRecord, lsn: Lsn) {
        let user = record.user.0 as usize;
        let placed = self.mo.place(record, lsn, unix_now_ms());
        for lsn in placed.done {
            self.mo_mark_done(lsn);
        }
        if placed.smpp_ready {
            wake_all(&self.client_wakers);
            if self.mesh.receivers(user) == 0 {
                self.mesh.forward_kick.kick();
            }
        }
    }

    fn mo_mark_done(&mut self, lsn: Lsn) {
        let marked = self.wal.as_mut().map_or(Ok(()), |w| w.mark_done(lsn));
        if let Err(e) = marked {
            tracing::warn!(error = %e, "mark_done of an MO failed");
        }
    }

    /// MO `id` of this shard was taken by its user: its record is done.
    fn mo_done(&mut self, id: MessageId) {
        let user = self.mo.record(id).map(|r| r.user.0);
        if let Some(lsn) = self.mo.forget(id) {
            self.mo_mark_done(lsn);
            if let Some(user) = user {
                self.metrics.user(user).mo_delivered.inc();
            }
        }
    }

    /// Replays the live MO records of `recovery`.
    pub(super) fn recover_mo(&mut self, recovery: &tern_wal::Recovery) {
        let users = self.snapshot.config.users.len();
        for r in recovery.records().filter(|r| r.kind == kind::MO) {
            let record = match MoRecord::decode(r.payload) {
                Ok(record) => record,
                Err(e) => {
                    tracing::error!(lsn = r.lsn.get(), error = %e, "MO record unreadable; dropped");
                    self.mo_mark_done(r.lsn);
                    continue;
                }
            };
            self.mo.recovered_id(record.id);
            if record.user.0 as usize >= users {
                tracing::warn!(
                    user = record.user.0,
                    "recovered MO for a user no longer configured; dropped"
                );
                self.mo_mark_done(r.lsn);
                continue;
            }
            self.mo_place(record, r.lsn);
        }
    }

    /// The next MO for an SMPP session of `user` (a copy: the book keeps the record until
    /// it is acknowledged).
    pub fn pop_mo(&mut self, user: usize) -> Option<MoRecord> {
        while let Some(id) = self.mo.pop_smpp(user) {
            if let Some(record) = self.mo.record(id) {
                return Some(record.clone());
            }
        }
        None
    }

    /// A session's client acknowledged MO `id` of `user`.
    pub fn mo_acknowledged(&mut self, id: MessageId, user: usize) {
        if id.shard() == self.shard {
            self.mo_done(id);
            return;
        }
        self.mo.drop_guest(id);
        let user = u32::try_from(user).unwrap_or(u32::MAX);
        self.mesh
            .send(usize::from(id.shard()), MeshMsg::MoAcked { id, user });
    }

    /// MO `id` of `user` could not be delivered by a session: queued again, here if a
    /// session of the user is left, else (another shard's) back to its owner.
    pub fn unpop_mo(&mut self, id: MessageId, user: usize) {
        if id.shard() == self.shard {
            self.mo.unpop_own(user, id);
            wake_all(&self.client_wakers);
            self.mesh.forward_kick.kick();
            return;
        }
        if self.mesh.receivers(user) > 0 && !self.stopping {
            self.mo.unpop_guest(user, id);
            wake_all(&self.client_wakers);
            return;
        }
        self.mo.drop_guest(id);
        let user = u32::try_from(user).unwrap_or(u32::MAX);
        self.mesh
            .send(usize::from(id.shard()), MeshMsg::MoBounced { id, user });
    }

    /// The last receiving session of `user` here closed: MOs other shards handed over go
    /// back to their owners.
    pub(super) fn bounce_guest_mos(&mut self, user: usize) {
        let wire_user = u32::try_from(user).unwrap_or(u32::MAX);
        for record in self.mo.drain_guests(user) {
            let id = record.id;
            self.mesh.send(
                usize::from(id.shard()),
                MeshMsg::MoBounced {
                    id,
                    user: wire_user,
                },
            );
        }
    }

    /// Hands MOs of users with no receiving session here to a shard that has one, within
    /// the credit per user and peer.
    pub(super) fn forward_mos(&mut self) {
        let credit = receipt_credit(self.snapshot.config.smpp.window_size);
        for user in 0..self.snapshot.config.users.len() {
            if !self.mo.smpp_waiting(user) || self.mesh.receivers(user) > 0 {
                continue;
            }
            while let Some(peer) = self.mo_peer(user, credit) {
                let Some(id) = self.mo.pop_own_smpp(user) else {
                    break;
                };
                let Some(record) = self.mo.record(id).cloned() else {
                    continue;
                };
                self.mo.adjust_transit(user, peer, true);
                self.mesh.send(
                    peer,
                    MeshMsg::MoDeliver {
                        record: Box::new(record),
                    },
                );
            }
        }
    }

    fn mo_peer(&self, user: usize, credit: u32) -> Option<usize> {
        let me = usize::from(self.shard);
        (0..self.node.shards()).find(|&s| {
            s != me
                && self.node.receivers(s, user) > 0
                && self.mo.in_transit(user, s) < credit
                && self.mesh.has_room(s)
        })
    }

    /// Applies an MO message from shard `from`.
    pub(super) fn on_mo_mesh(&mut self, from: usize, msg: MeshMsg) {
        match msg {
            MeshMsg::MoDeliver { record } => {
                let user = record.user.0 as usize;
                if self.mesh.receivers(user) == 0 || self.stopping {
                    let (id, user) = (record.id, record.user.0);
                    self.mesh.send(from, MeshMsg::MoBounced { id, user });
                    return;
                }
                self.mo.take_guest(*record);
                wake_all(&self.client_wakers);
            }
            MeshMsg::MoAcked { id, user } => {
                self.mo.adjust_transit(user as usize, from, false);
                self.mo_done(id);
                self.mesh.forward_kick.kick();
            }
            MeshMsg::MoBounced { id, user } => {
                self.mo.adjust_transit(user as usize, from, false);
                self.mo.unpop_own(user as usize, id);
                wake_all(&self.client_wakers);
                self.mesh.forward_kick.kick();
            }
            _ => {}
        }
    }

    /// The next MO callback to dispatch: its token and request (`None`: nothing to send).
    pub fn mo_next_callback(&mut self) -> Option<(u64, Option<tern_http::CallbackRequest>)> {
        let (token, callback) = self.mo.next_callback()?;
        let request = self
            .mo
            .spec(callback.user as usize)
            .and_then(|spec| tern_http::render_mo(spec, &callback.notice));
        Some((token, request))
    }

    /// The dispatcher's outcome of MO callback `token`: acknowledged, its MOs are done;
    /// given up, it stays owed and is offered again.
    pub fn mo_callback_outcome(&mut self, token: u64, acknowledged: bool) {
        if !acknowledged {
            tracing::warn!("MO callback given up after its retry time; offered again");
            self.mo.callback_unsent(token);
            return;
        }
        if let Some(callback) = self.mo.callback_acknowledged(token) {
            for id in callback.ids {
                self.mo_done(id);
            }
        }
    }

    /// Periodic MO work: reassembly groups whose time is up are delivered as they are.
    pub fn mo_housekeeping(&mut self) {
        self.mo.expire(unix_now_ms());
    }
}
