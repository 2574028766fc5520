//! The Accepted record: everything needed to submit a message and to build its client
//! receipt later, as it goes into the WAL.

use std::borrow::Cow;

use tern_smpp::limits::{ADDRESS_MAX_LEN, SERVICE_TYPE_MAX_LEN};
use tern_smpp::{EsmClass, RegisteredDelivery};
use tern_sms::Sar;

use super::id::{ConnectorId, MessageId, UserId};
use super::record::{FORMAT_VERSION, RecordError};
use super::wire::{
    Reader, check_len, put_bytes_u8, put_bytes_u16, put_u8, put_u16, put_u32, put_u64,
};

/// Longest short_message (SMPP's sm_length is one octet).
pub const SHORT_MESSAGE_MAX_LEN: usize = 255;
/// Longest message_payload.
pub const MESSAGE_PAYLOAD_MAX_LEN: usize = 65_535;
/// Most parts of a message we split (part numbers are one octet, 0..=254).
pub const PARTS_MAX: usize = 255;
/// Most connectors in a route's failover list.
pub const ROUTE_CONNECTORS_MAX: usize = 8;
/// Longest client reference (an HTTP client's own id, or SMPP user_message_reference).
pub const CLIENT_REF_MAX_LEN: usize = 64;
/// Most octets of TLVs passed through to the upstream.
pub const PASSTHROUGH_TLVS_MAX_LEN: usize = 8 * 1024;
/// Longest encoded callback specification of an HTTP message.
pub const CALLBACK_MAX_LEN: usize = 4 * 1024;
/// Longest idempotency key (the HTTP `Idempotency-Key` header, with the request digest).
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;
/// Format version of the Accepted record (version 1, without the HTTP fields, still reads).
pub const ACCEPTED_FORMAT_VERSION: u8 = 2;

/// How the client reached us, which decides how its receipt goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// An SMPP bind: the receipt is a deliver_sm on one of its receiver binds.
    Smpp {
        /// The bind's interface_version (0x33 peers get no TLVs in their receipts).
        interface_version: u8,
    },
    /// The HTTP API: the receipt is a callback, retried until acknowledged.
    Http,
}

/// A source or destination address with its TON and NPI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Address<'a> {
    /// Type of number.
    pub ton: u8,
    /// Numbering plan indicator.
    pub npi: u8,
    /// The digits or the alphanumeric sender id, as received (at most 64 octets).
    pub digits: Cow<'a, [u8]>,
}

impl Address<'_> {
    /// The same address owning its bytes.
    pub fn into_owned(self) -> Address<'static> {
        Address {
            ton: self.ton,
            npi: self.npi,
            digits: Cow::Owned(self.digits.into_owned()),
        }
    }
}

/// The route's failover list: connectors to try in order (1 to 8).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    connectors: [ConnectorId; ROUTE_CONNECTORS_MAX],
    len: u8,
}

impl Route {
    /// A route over `connectors`, which must hold 1 to [`ROUTE_CONNECTORS_MAX`] entries.
    pub fn new(connectors: &[ConnectorId]) -> Result<Route, RecordError> {
        check_len("route", connectors.len(), ROUTE_CONNECTORS_MAX)?;
        if connectors.is_empty() {
            return Err(RecordError::InvalidValue {
                field: "route",
                value: 0,
            });
        }
        let mut route = Route {
            connectors: [ConnectorId(0); ROUTE_CONNECTORS_MAX],
            len: connectors.len() as u8,
        };
        route.connectors[..connectors.len()].copy_from_slice(connectors);
        Ok(route)
    }

    /// A route of one connector.
    pub fn single(connector: ConnectorId) -> Route {
        let mut connectors = [ConnectorId(0); ROUTE_CONNECTORS_MAX];
        connectors[0] = connector;
        Route { connectors, len: 1 }
    }

    /// The connectors, first choice first.
    pub fn as_slice(&self) -> &[ConnectorId] {
        self.connectors.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The connector at `index` in the failover order.
    pub fn get(&self, index: usize) -> Option<ConnectorId> {
        self.as_slice().get(index).copied()
    }

    /// Number of connectors.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a route has at least one connector.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The parts of a message we split: each part's short_message as it is submitted (its
/// UDH included when concatenation is by UDH), and the SAR reference when it is by TLVs.
///
/// Held as one length-prefixed blob (`len u8, bytes` per part), validated once, so a
/// decoded record borrows it and reading a part allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SplitParts<'a> {
    sar_reference: Option<u16>,
    count: u8,
    blob: Cow<'a, [u8]>,
}

impl<'a> SplitParts<'a> {
    /// Parts from their short_messages (1 to 255 of at most 255 octets each).
    pub fn new(
        sar_reference: Option<u16>,
        parts: &[&[u8]],
    ) -> Result<SplitParts<'static>, RecordError> {
        check_len("parts", parts.len(), PARTS_MAX)?;
        if parts.is_empty() {
            return Err(RecordError::InvalidValue {
                field: "parts",
                value: 0,
            });
        }
        let mut blob = Vec::with_capacity(parts.iter().map(|part| part.len() + 1).sum());
        for part in parts {
            check_len("part", part.len(), SHORT_MESSAGE_MAX_LEN)?;
            put_bytes_u8(&mut blob, part);
        }
        Ok(SplitParts {
            sar_reference,
            count: parts.len() as u8,
            blob: Cow::Owned(blob),
        })
    }

    /// Checks that `blob` holds exactly `count` length-prefixed parts.
    fn from_blob(
        sar_reference: Option<u16>,
        count: u8,
        blob: &'a [u8],
    ) -> Result<Self, RecordError> {
        if count == 0 {
            return Err(RecordError::InvalidValue {
                field: "parts",
                value: 0,
            });
        }
        let mut reader = Reader::new(blob);
        for _ in 0..count {
            reader.bytes_u8("part", SHORT_MESSAGE_MAX_LEN)?;
        }
        reader.finish()?;
        Ok(SplitParts {
            sar_reference,
            count,
            blob: Cow::Borrowed(blob),
        })
    }

    /// Number of parts.
    pub fn count(&self) -> u8 {
        self.count
    }

    /// The sar_msg_ref_num when parts are tied by SAR TLVs.
    pub fn sar_reference(&self) -> Option<u16> {
        self.sar_reference
    }

    /// The parts' short_messages, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut reader = Reader::new(&self.blob);
        // The blob was validated when built or decoded, so the walk ends exactly at `count`.
        (0..self.count).map_while(move |_| reader.bytes_u8("part", SHORT_MESSAGE_MAX_LEN).ok())
    }

    /// The short_message of part `index` (0-based).
    pub fn get(&self, index: u8) -> Option<&[u8]> {
        self.iter().nth(usize::from(index))
    }

    /// The SAR TLV values of part `index`, when parts are tied by SAR.
    pub fn sar(&self, index: u8) -> Option<Sar> {
        let reference = self.sar_reference?;
        (index < self.count).then(|| Sar {
            reference,
            total: self.count,
            seq: index + 1,
        })
    }

    /// The same parts owning their bytes.
    pub fn into_owned(self) -> SplitParts<'static> {
        SplitParts {
            sar_reference: self.sar_reference,
            count: self.count,
            blob: Cow::Owned(self.blob.into_owned()),
        }
    }
}

/// What is submitted: one short_message, one message_payload, or the parts we split.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Content<'a> {
    /// Sent whole in short_message (a client's own UDH stays inside, esm_class says so).
    ShortMessage(Cow<'a, [u8]>),
    /// Sent whole in the message_payload TLV; the upstream splits it.
    MessagePayload(Cow<'a, [u8]>),
    /// Split by us: one submit per part.
    Split(SplitParts<'a>),
}

/// One submit's user data: which field carries it, and the SAR values if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPayload<'r> {
    /// The octets.
    pub bytes: &'r [u8],
    /// True when they go in message_payload, false for short_message.
    pub in_message_payload: bool,
    /// SAR TLV values to add.
    pub sar: Option<Sar>,
}

impl Content<'_> {
    /// Number of submits this content takes.
    pub fn part_count(&self) -> u8 {
        match self {
            Content::ShortMessage(_) | Content::MessagePayload(_) => 1,
            Content::Split(parts) => parts.count(),
        }
    }

    /// The user data of part `index`.
    pub fn part(&self, index: u8) -> Option<PartPayload<'_>> {
        match self {
            Content::ShortMessage(bytes) | Content::MessagePayload(bytes) => (index == 0)
                .then_some(PartPayload {
                    bytes,
                    in_message_payload: matches!(self, Content::MessagePayload(_)),
                    sar: None,
                }),
            Content::Split(parts) => Some(PartPayload {
                bytes: parts.get(index)?,
                in_message_payload: false,
                sar: parts.sar(index),
            }),
        }
    }

    /// The same content owning its bytes.
    pub fn into_owned(self) -> Content<'static> {
        match self {
            Content::ShortMessage(bytes) => Content::ShortMessage(Cow::Owned(bytes.into_owned())),
            Content::MessagePayload(bytes) => {
                Content::MessagePayload(Cow::Owned(bytes.into_owned()))
            }
            Content::Split(parts) => Content::Split(parts.into_owned()),
        }
    }
}

/// A message as accepted: the WAL's Accepted record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageRecord<'a> {
    /// Our id (ID1).
    pub id: MessageId,
    /// The client.
    pub user: UserId,
    /// How the client reached us.
    pub session: SessionKind,
    /// When we accepted it (Unix ms); the receipt's `submit date`.
    pub accepted_at_ms: u64,
    /// Absolute validity deadline (Unix ms): the message expires at this instant.
    pub validity_deadline_ms: u64,
    /// Scheduled delivery time (Unix ms), if the client asked for one.
    pub schedule_at_ms: Option<u64>,
    /// Source address.
    pub source: Address<'a>,
    /// Destination address.
    pub destination: Address<'a>,
    /// esm_class to submit with (UDHI set when parts carry a UDH).
    pub esm_class: EsmClass,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag.
    pub priority: u8,
    /// What the client asked to be told.
    pub registered_delivery: RegisteredDelivery,
    /// data_coding.
    pub data_coding: u8,
    /// service_type (at most 32 octets).
    pub service_type: Cow<'a, [u8]>,
    /// The client's own reference for the message (at most 64 octets).
    pub client_ref: Cow<'a, [u8]>,
    /// The route's failover list.
    pub route: Route,
    /// What to submit.
    pub content: Content<'a>,
    /// TLVs passed through to the upstream, as raw octets (at most 8 KiB).
    pub tlvs: Cow<'a, [u8]>,
    /// Where an HTTP client's receipts go: `tern_http::CallbackSpec` bytes, opaque here
    /// (empty for SMPP clients and HTTP clients that want none).
    pub callback: Cow<'a, [u8]>,
    /// The HTTP request's idempotency key and digest, so a retry after a restart is still
    /// recognised (empty when none was given).
    pub idempotency_key: Cow<'a, [u8]>,
}

const SESSION_SMPP: u8 = 1;
const SESSION_HTTP: u8 = 2;
const CONTENT_SHORT_MESSAGE: u8 = 1;
const CONTENT_MESSAGE_PAYLOAD: u8 = 2;
const CONTENT_SPLIT_UDH: u8 = 3;
const CONTENT_SPLIT_SAR: u8 = 4;

impl<'a> MessageRecord<'a> {
    /// Appends the payload (format version 2); refuses fields beyond their bounds, the same
    /// bounds [`MessageRecord::decode`] enforces, so whatever is written reads back.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        self.check_bounds()?;
        put_u8(out, ACCEPTED_FORMAT_VERSION);
        put_u64(out, self.id.get());
        put_u32(out, self.user.0);
        match self.session {
            SessionKind::Smpp { interface_version } => {
                put_u8(out, SESSION_SMPP);
                put_u8(out, interface_version);
            }
            SessionKind::Http => {
                put_u8(out, SESSION_HTTP);
                put_u8(out, 0);
            }
        }
        put_u64(out, self.accepted_at_ms);
        put_u64(out, self.validity_deadline_ms);
        put_u8(out, u8::from(self.schedule_at_ms.is_some()));
        put_u64(out, self.schedule_at_ms.unwrap_or(0));
        for byte in [
            self.esm_class.0,
            self.protocol_id,
            self.priority,
            self.registered_delivery.0,
            self.data_coding,
        ] {
            put_u8(out, byte);
        }
        for address in [&self.source, &self.destination] {
            put_u8(out, address.ton);
            put_u8(out, address.npi);
            put_bytes_u8(out, &address.digits);
        }
        put_bytes_u8(out, &self.service_type);
        put_bytes_u8(out, &self.client_ref);
        put_u8(out, self.route.len);
        for connector in self.route.as_slice() {
            put_u16(out, connector.0);
        }
        encode_content(&self.content, out);
        put_bytes_u16(out, &self.tlvs);
        put_bytes_u16(out, &self.callback);
        put_bytes_u8(out, &self.idempotency_key);
        Ok(())
    }

    fn check_bounds(&self) -> Result<(), RecordError> {
        check_len("source", self.source.digits.len(), ADDRESS_MAX_LEN)?;
        check_len(
            "destination",
            self.destination.digits.len(),
            ADDRESS_MAX_LEN,
        )?;
        check_len(
            "service_type",
            self.service_type.len(),
            SERVICE_TYPE_MAX_LEN,
        )?;
        check_len("client_ref", self.client_ref.len(), CLIENT_REF_MAX_LEN)?;
        check_len("tlvs", self.tlvs.len(), PASSTHROUGH_TLVS_MAX_LEN)?;
        check_len("callback", self.callback.len(), CALLBACK_MAX_LEN)?;
        check_len(
            "idempotency_key",
            self.idempotency_key.len(),
            IDEMPOTENCY_KEY_MAX_LEN,
        )?;
        match &self.content {
            Content::ShortMessage(bytes) => {
                check_len("short_message", bytes.len(), SHORT_MESSAGE_MAX_LEN)
            }
            Content::MessagePayload(bytes) => {
                check_len("message_payload", bytes.len(), MESSAGE_PAYLOAD_MAX_LEN)
            }
            Content::Split(_) => Ok(()),
        }
    }

    /// Reads a payload written by [`MessageRecord::encode`], borrowing its byte fields.
    /// Never panics; any damage or unknown version is a typed error.
    pub fn decode(payload: &'a [u8]) -> Result<MessageRecord<'a>, RecordError> {
        let mut reader = Reader::new(payload);
        let version = reader.u8("version")?;
        if version != FORMAT_VERSION && version != ACCEPTED_FORMAT_VERSION {
            return Err(RecordError::UnsupportedVersion { version });
        }
        let id = MessageId::from_u64(reader.u64("id")?).map_err(RecordError::Id)?;
        let user = UserId(reader.u32("user")?);
        let session = decode_session(&mut reader)?;
        let accepted_at_ms = reader.u64("accepted_at_ms")?;
        let validity_deadline_ms = reader.u64("validity_deadline_ms")?;
        let schedule_at_ms = decode_schedule(&mut reader)?;
        let esm_class = EsmClass(reader.u8("esm_class")?);
        let protocol_id = reader.u8("protocol_id")?;
        let priority = reader.u8("priority")?;
        let registered_delivery = RegisteredDelivery(reader.u8("registered_delivery")?);
        let data_coding = reader.u8("data_coding")?;
        let source = decode_address(&mut reader, "source")?;
        let destination = decode_address(&mut reader, "destination")?;
        let service_type = Cow::Borrowed(reader.bytes_u8("service_type", SERVICE_TYPE_MAX_LEN)?);
        let client_ref = Cow::Borrowed(reader.bytes_u8("client_ref", CLIENT_REF_MAX_LEN)?);
        let route = decode_route(&mut reader)?;
        let content = decode_content(&mut reader)?;
        let tlvs = Cow::Borrowed(reader.bytes_u16("tlvs", PASSTHROUGH_TLVS_MAX_LEN)?);
        let (callback, idempotency_key) = if version >= ACCEPTED_FORMAT_VERSION {
            (
                Cow::Borrowed(reader.bytes_u16("callback", CALLBACK_MAX_LEN)?),
                Cow::Borrowed(reader.bytes_u8("idempotency_key", IDEMPOTENCY_KEY_MAX_LEN)?),
            )
        } else {
            (Cow::Borrowed(&[][..]), Cow::Borrowed(&[][..]))
        };
        reader.finish()?;
        Ok(MessageRecord {
            id,
            user,
            session,
            accepted_at_ms,
            validity_deadline_ms,
            schedule_at_ms,
            source,
            destination,
            esm_class,
            protocol_id,
            priority,
            registered_delivery,
            data_coding,
            service_type,
            client_ref,
            route,
            content,
            tlvs,
            callback,
            idempotency_key,
        })
    }

    /// The same record owning its bytes (to keep it past the buffer it was read from).
    pub fn into_owned(self) -> MessageRecord<'static> {
        MessageRecord {
            source: self.source.into_owned(),
            destination: self.destination.into_owned(),
            service_type: Cow::Owned(self.service_type.into_owned()),
            client_ref: Cow::Owned(self.client_ref.into_owned()),
            content: self.content.into_owned(),
            tlvs: Cow::Owned(self.tlvs.into_owned()),
            callback: Cow::Owned(self.callback.into_owned()),
            idempotency_key: Cow::Owned(self.idempotency_key.into_owned()),
            ..self
        }
    }
}

fn encode_content(content: &Content<'_>, out: &mut Vec<u8>) {
    match content {
        Content::ShortMessage(bytes) => {
            put_u8(out, CONTENT_SHORT_MESSAGE);
            put_bytes_u8(out, bytes);
        }
        Content::MessagePayload(bytes) => {
            put_u8(out, CONTENT_MESSAGE_PAYLOAD);
            put_bytes_u16(out, bytes);
        }
        Content::Split(parts) => {
            match parts.sar_reference {
                Some(reference) => {
                    put_u8(out, CONTENT_SPLIT_SAR);
                    put_u16(out, reference);
                }
                None => put_u8(out, CONTENT_SPLIT_UDH),
            }
            put_u8(out, parts.count);
            // The blob holds at most 255 parts of 256 octets: it fits a u32 length.
            put_u32(out, parts.blob.len() as u32);
            out.extend_from_slice(&parts.blob);
        }
    }
}

fn decode_session(reader: &mut Reader<'_>) -> Result<SessionKind, RecordError> {
    let tag = reader.u8("session")?;
    let interface_version = reader.u8("interface_version")?;
    match tag {
        SESSION_SMPP => Ok(SessionKind::Smpp { interface_version }),
        SESSION_HTTP => Ok(SessionKind::Http),
        other => Err(RecordError::InvalidValue {
            field: "session",
            value: u64::from(other),
        }),
    }
}

fn decode_schedule(reader: &mut Reader<'_>) -> Result<Option<u64>, RecordError> {
    let present = reader.u8("schedule_flag")?;
    let at_ms = reader.u64("schedule_at_ms")?;
    match present {
        0 => Ok(None),
        1 => Ok(Some(at_ms)),
        other => Err(RecordError::InvalidValue {
            field: "schedule_flag",
            value: u64::from(other),
        }),
    }
}

fn decode_address<'a>(
    reader: &mut Reader<'a>,
    field: &'static str,
) -> Result<Address<'a>, RecordError> {
    let ton = reader.u8(field)?;
    let npi = reader.u8(field)?;
    let digits = Cow::Borrowed(reader.bytes_u8(field, ADDRESS_MAX_LEN)?);
    Ok(Address { ton, npi, digits })
}

fn decode_route(reader: &mut Reader<'_>) -> Result<Route, RecordError> {
    let len = usize::from(reader.u8("route")?);
    check_len("route", len, ROUTE_CONNECTORS_MAX)?;
    let mut connectors = [ConnectorId(0); ROUTE_CONNECTORS_MAX];
    for slot in connectors.iter_mut().take(len) {
        *slot = ConnectorId(reader.u16("route")?);
    }
    Route::new(connectors.get(..len).unwrap_or(&[]))
}

fn decode_content<'a>(reader: &mut Reader<'a>) -> Result<Content<'a>, RecordError> {
    match reader.u8("content")? {
        CONTENT_SHORT_MESSAGE => Ok(Content::ShortMessage(Cow::Borrowed(
            reader.bytes_u8("short_message", SHORT_MESSAGE_MAX_LEN)?,
        ))),
        CONTENT_MESSAGE_PAYLOAD => Ok(Content::MessagePayload(Cow::Borrowed(
            reader.bytes_u16("message_payload", MESSAGE_PAYLOAD_MAX_LEN)?,
        ))),
        tag @ (CONTENT_SPLIT_UDH | CONTENT_SPLIT_SAR) => {
            let sar_reference = match tag {
                CONTENT_SPLIT_SAR => Some(reader.u16("sar_reference")?),
                _ => None,
            };
            let count = reader.u8("parts")?;
            let blob_len = reader.u32("parts")? as usize;
            check_len("parts", blob_len, PARTS_MAX * (SHORT_MESSAGE_MAX_LEN + 1))?;
            let blob = reader.take("parts", blob_len)?;
            Ok(Content::Split(SplitParts::from_blob(
                sar_reference,
                count,
                blob,
            )?))
        }
        other => Err(RecordError::InvalidValue {
            field: "content",
            value: u64::from(other),
        }),
    }
}
