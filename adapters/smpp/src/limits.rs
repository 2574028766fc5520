//! The longest C-octet strings this codec accepts, NUL excluded.
//!
//! Peers send system_ids, passwords and addresses longer than SMPP 3.4 allows (a 10-char
//! password where the spec says 8, 30-digit "addresses" carrying routing prefixes), so
//! decode accepts up to these generous bounds. Beyond them a field is answered with its
//! specific error (`ESME_RINVSYSID`, `ESME_RINVSRCADR`, …). Encode refuses the same
//! bounds so that every PDU we write decodes back. Each bound is explicit, so the largest
//! PDU body is bounded by the framer's `max_pdu_len`, not by any field.

/// system_id (spec: 15).
pub const SYSTEM_ID_MAX_LEN: usize = 64;
/// password (spec: 8).
pub const PASSWORD_MAX_LEN: usize = 64;
/// system_type (spec: 12).
pub const SYSTEM_TYPE_MAX_LEN: usize = 32;
/// address_range of a bind (spec: 40).
pub const ADDRESS_RANGE_MAX_LEN: usize = 64;
/// service_type (spec: 5).
pub const SERVICE_TYPE_MAX_LEN: usize = 32;
/// source_addr, destination_addr, esme_addr (spec: 20, or 64 in data_sm and alerts).
pub const ADDRESS_MAX_LEN: usize = 64;
/// schedule_delivery_time, validity_period, final_date (spec: 16); the exact format is
/// checked by [`crate::time`], where the gateway can answer `ESME_RINVSCHED`.
pub const TIME_MAX_LEN: usize = 32;
/// message_id (spec: 64).
pub const MESSAGE_ID_MAX_LEN: usize = 128;
/// dl_name of a submit_multi distribution list (spec: 20).
pub const DL_NAME_MAX_LEN: usize = 64;
