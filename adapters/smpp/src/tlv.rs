//! Optional parameters (TLVs, SMPP 3.4 §5.3; SMPP 5.0 §4.8).
//!
//! A body's TLV area is kept as the octets it arrived in ([`Tlvs`]), checked once for
//! structure (every tag/length/value fits) and read through a borrowed iterator of typed
//! [`Tlv`]s. Nothing is copied or allocated on decode; unknown and vendor TLVs
//! (0x1400–0x3FFF) keep their place and their octets, so a PDU relayed unchanged is
//! re-encoded byte for byte.
//!
//! **Wrong lengths.** A known TLV whose length does not fit its type (a 2-octet
//! message_state, a 5-octet sar_msg_ref_num) is kept raw: iteration yields it as
//! [`Tlv::Other`] and its typed getter returns `None`. Decoding never fails or panics on
//! it. A connector that must be strict answers `ESME_RINVPARLEN` when
//! [`Tlvs::first_malformed`] returns a tag. C-octet-string TLVs are read with or without
//! their NUL (SMSCs commonly omit it in receipted_message_id).

use std::borrow::Cow;
use std::fmt;

use crate::error::EncodeError;

/// The tag of a TLV.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u16);

impl Tag {
    /// True for the vendor-specific range 0x1400–0x3FFF.
    pub const fn is_vendor(self) -> bool {
        self.0 >= 0x1400 && self.0 <= 0x3FFF
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "tag(0x{:04x})", self.0),
        }
    }
}

/// network_error_code (0x0423): the network type and its error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetworkErrorCode {
    /// 1 ANSI-136, 2 IS-95, 3 GSM, 8 SMPP 5.0 …
    pub network_type: u8,
    /// The network's own error code.
    pub error_code: u16,
}

/// ms_validity (0x1204): 1 octet in SMPP 3.4, optionally 4 in SMPP 5.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MsValidity {
    /// 0 store indefinitely, 1 power down, 2 SID-based registration area, 3 display only,
    /// 4 relative time period (5.0).
    pub behaviour: u8,
    /// SMPP 5.0: (units_of_time, number_of_time_units).
    pub time_period: Option<(u8, u16)>,
}

/// broadcast_content_type (0x0601, SMPP 5.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BroadcastContentType {
    /// The tag of the network's content-type scheme.
    pub network_type: u8,
    /// The content type.
    pub content_type: u16,
}

/// broadcast_frequency_interval (0x0605, SMPP 5.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BroadcastFrequencyInterval {
    /// 0x00 as frequently as possible, 0x08 seconds, 0x09 minutes, 0x0A hours, …
    pub units_of_time: u8,
    /// How many units.
    pub number: u16,
}

/// A TLV value of fixed shape: an integer or a small struct of integers.
trait FixedValue: Sized + Copy {
    fn read(value: &[u8]) -> Option<Self>;
    fn write(&self, out: &mut Vec<u8>);
}

impl FixedValue for u8 {
    fn read(value: &[u8]) -> Option<Self> {
        match value {
            [a] => Some(*a),
            _ => None,
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}

impl FixedValue for u16 {
    fn read(value: &[u8]) -> Option<Self> {
        value.try_into().ok().map(u16::from_be_bytes)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl FixedValue for u32 {
    fn read(value: &[u8]) -> Option<Self> {
        value.try_into().ok().map(u32::from_be_bytes)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

/// A u8 followed by a u16: the shape shared by three TLVs.
fn read_u8_u16(value: &[u8]) -> Option<(u8, u16)> {
    match value {
        [a, b, c] => Some((*a, u16::from_be_bytes([*b, *c]))),
        _ => None,
    }
}

fn write_u8_u16(out: &mut Vec<u8>, a: u8, b: u16) {
    out.push(a);
    out.extend_from_slice(&b.to_be_bytes());
}

impl FixedValue for NetworkErrorCode {
    fn read(value: &[u8]) -> Option<Self> {
        read_u8_u16(value).map(|(network_type, error_code)| NetworkErrorCode {
            network_type,
            error_code,
        })
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_u8_u16(out, self.network_type, self.error_code);
    }
}

impl FixedValue for BroadcastContentType {
    fn read(value: &[u8]) -> Option<Self> {
        read_u8_u16(value).map(|(network_type, content_type)| BroadcastContentType {
            network_type,
            content_type,
        })
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_u8_u16(out, self.network_type, self.content_type);
    }
}

impl FixedValue for BroadcastFrequencyInterval {
    fn read(value: &[u8]) -> Option<Self> {
        read_u8_u16(value).map(|(units_of_time, number)| BroadcastFrequencyInterval {
            units_of_time,
            number,
        })
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_u8_u16(out, self.units_of_time, self.number);
    }
}

impl FixedValue for MsValidity {
    fn read(value: &[u8]) -> Option<Self> {
        match value {
            [behaviour] => Some(MsValidity {
                behaviour: *behaviour,
                time_period: None,
            }),
            [behaviour, rest @ ..] => read_u8_u16(rest).map(|period| MsValidity {
                behaviour: *behaviour,
                time_period: Some(period),
            }),
            [] => None,
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.behaviour);
        if let Some((units, number)) = self.time_period {
            write_u8_u16(out, units, number);
        }
    }
}

/// alert_on_message_delivery: no value in SMPP 3.4, an optional octet in SMPP 5.0.
impl FixedValue for Option<u8> {
    fn read(value: &[u8]) -> Option<Self> {
        match value {
            [] => Some(None),
            [a] => Some(Some(*a)),
            _ => None,
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        if let Some(a) = self {
            out.push(*a);
        }
    }
}

/// A C-octet-string TLV value: with or without its NUL, never with a NUL inside.
fn read_cstr(value: &[u8]) -> Option<&[u8]> {
    let content = value.strip_suffix(&[0]).unwrap_or(value);
    (!content.contains(&0)).then_some(content)
}

/// The Rust type of a TLV value of each kind.
macro_rules! tlv_ty {
    ($lt:lifetime, cstr) => { &$lt [u8] };
    ($lt:lifetime, octets) => { &$lt [u8] };
    ($lt:lifetime, flag) => { Option<u8> };
    ($lt:lifetime, $t:ty) => { $t };
}

macro_rules! tlv_read {
    (cstr, $v:expr) => {
        read_cstr($v)
    };
    (octets, $v:expr) => {
        Some($v)
    };
    (flag, $v:expr) => {
        <Option<u8> as FixedValue>::read($v)
    };
    ($t:ty, $v:expr) => {
        <$t as FixedValue>::read($v)
    };
}

macro_rules! tlv_write {
    (cstr, $tag:expr, $v:expr, $out:expr) => {{
        if $v.contains(&0) {
            return Err(EncodeError::InvalidCString {
                field: match $tag.name() {
                    Some(name) => name,
                    None => "TLV",
                },
                max_len: usize::from(u16::MAX) - 1,
            });
        }
        $out.extend_from_slice($v);
        $out.push(0);
    }};
    (octets, $tag:expr, $v:expr, $out:expr) => {
        $out.extend_from_slice($v)
    };
    (flag, $tag:expr, $v:expr, $out:expr) => {
        FixedValue::write($v, $out)
    };
    ($t:ty, $tag:expr, $v:expr, $out:expr) => {
        FixedValue::write($v, $out)
    };
}

macro_rules! tlv_table {
    ($( $(#[$doc:meta])* $variant:ident, $getter:ident, $konst:ident = $value:literal : $kind:tt; )*) => {
        impl Tag {
            $( $(#[$doc])* pub const $konst: Tag = Tag($value); )*

            /// The specification's name of this tag (`"message_state"`), or `None` if unknown.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(stringify!($getter)), )*
                    _ => None,
                }
            }

            /// Every tag this crate types.
            pub const ALL: &'static [Tag] = &[$( Tag($value), )*];
        }

        /// One TLV, typed by its tag. Values borrow from the PDU's octets.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Tlv<'a> {
            $( $(#[$doc])* $variant(tlv_ty!('a, $kind)), )*
            /// An unknown or vendor tag, or a known tag whose value does not fit its type;
            /// kept as it came.
            Other {
                /// The tag.
                tag: Tag,
                /// The value octets.
                value: &'a [u8],
            },
        }

        impl<'a> Tlv<'a> {
            /// The tag this TLV is written with.
            pub const fn tag(&self) -> Tag {
                match self {
                    $( Tlv::$variant(_) => Tag::$konst, )*
                    Tlv::Other { tag, .. } => *tag,
                }
            }

            /// Types a raw tag and value; what does not fit its type stays [`Tlv::Other`].
            pub fn from_raw(tag: Tag, value: &'a [u8]) -> Tlv<'a> {
                let typed = match tag.0 {
                    $( $value => tlv_read!($kind, value).map(Tlv::$variant), )*
                    _ => None,
                };
                typed.unwrap_or(Tlv::Other { tag, value })
            }

            fn write_value(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                match self {
                    $( Tlv::$variant(v) => tlv_write!($kind, Tag::$konst, v, out), )*
                    Tlv::Other { value, .. } => out.extend_from_slice(value),
                }
                Ok(())
            }
        }

        impl Tlvs<'_> {
            $(
                #[doc = concat!("The first `", stringify!($getter),
                    "` TLV, typed; `None` if absent or malformed.")]
                pub fn $getter(&self) -> Option<tlv_ty!('_, $kind)> {
                    self.iter().find_map(|tlv| match tlv {
                        Tlv::$variant(v) => Some(v),
                        _ => None,
                    })
                }
            )*
        }
    };
}

tlv_table! {
    /// dest_addr_subunit: the unit of the destination device the data is for.
    DestAddrSubunit, dest_addr_subunit, DEST_ADDR_SUBUNIT = 0x0005: u8;
    /// dest_network_type: the network of the destination.
    DestNetworkType, dest_network_type, DEST_NETWORK_TYPE = 0x0006: u8;
    /// dest_bearer_type: the bearer wanted for delivery.
    DestBearerType, dest_bearer_type, DEST_BEARER_TYPE = 0x0007: u8;
    /// dest_telematics_id: the telematic interworking at the destination.
    DestTelematicsId, dest_telematics_id, DEST_TELEMATICS_ID = 0x0008: u16;
    /// source_addr_subunit: the unit of the originating device.
    SourceAddrSubunit, source_addr_subunit, SOURCE_ADDR_SUBUNIT = 0x000D: u8;
    /// source_network_type: the network of the originator.
    SourceNetworkType, source_network_type, SOURCE_NETWORK_TYPE = 0x000E: u8;
    /// source_bearer_type: the bearer the message came over.
    SourceBearerType, source_bearer_type, SOURCE_BEARER_TYPE = 0x000F: u8;
    /// source_telematics_id: the telematic interface of the originator.
    SourceTelematicsId, source_telematics_id, SOURCE_TELEMATICS_ID = 0x0010: u16;
    /// qos_time_to_live: seconds the SMSC keeps the message.
    QosTimeToLive, qos_time_to_live, QOS_TIME_TO_LIVE = 0x0017: u32;
    /// payload_type: 0 WDP, 1 WCMP.
    PayloadType, payload_type, PAYLOAD_TYPE = 0x0019: u8;
    /// additional_status_info_text: a human-readable reason in a response.
    AdditionalStatusInfoText, additional_status_info_text, ADDITIONAL_STATUS_INFO_TEXT = 0x001D: cstr;
    /// receipted_message_id: the SMSC's id of the message a receipt is about.
    ReceiptedMessageId, receipted_message_id, RECEIPTED_MESSAGE_ID = 0x001E: cstr;
    /// ms_msg_wait_facilities: message-waiting indication.
    MsMsgWaitFacilities, ms_msg_wait_facilities, MS_MSG_WAIT_FACILITIES = 0x0030: u8;
    /// privacy_indicator: privacy level of the message.
    PrivacyIndicator, privacy_indicator, PRIVACY_INDICATOR = 0x0201: u8;
    /// source_subaddress: subaddress of the originator (type octet + subaddress).
    SourceSubaddress, source_subaddress, SOURCE_SUBADDRESS = 0x0202: octets;
    /// dest_subaddress: subaddress of the destination (type octet + subaddress).
    DestSubaddress, dest_subaddress, DEST_SUBADDRESS = 0x0203: octets;
    /// user_message_reference: the ESME's own reference for the message.
    UserMessageReference, user_message_reference, USER_MESSAGE_REFERENCE = 0x0204: u16;
    /// user_response_code: application-specific reply code.
    UserResponseCode, user_response_code, USER_RESPONSE_CODE = 0x0205: u8;
    /// source_port: application port at the originator (WAP).
    SourcePort, source_port, SOURCE_PORT = 0x020A: u16;
    /// destination_port: application port at the destination (WAP).
    DestinationPort, destination_port, DESTINATION_PORT = 0x020B: u16;
    /// sar_msg_ref_num: reference shared by the parts of a concatenated message.
    SarMsgRefNum, sar_msg_ref_num, SAR_MSG_REF_NUM = 0x020C: u16;
    /// language_indicator: language of the text.
    LanguageIndicator, language_indicator, LANGUAGE_INDICATOR = 0x020D: u8;
    /// sar_total_segments: number of parts of a concatenated message.
    SarTotalSegments, sar_total_segments, SAR_TOTAL_SEGMENTS = 0x020E: u8;
    /// sar_segment_seqnum: which part this is, from 1.
    SarSegmentSeqnum, sar_segment_seqnum, SAR_SEGMENT_SEQNUM = 0x020F: u8;
    /// sc_interface_version: the SMSC's SMPP version, in bind responses.
    ScInterfaceVersion, sc_interface_version, SC_INTERFACE_VERSION = 0x0210: u8;
    /// callback_num_pres_ind: presentation and screening of the callback number.
    CallbackNumPresInd, callback_num_pres_ind, CALLBACK_NUM_PRES_IND = 0x0302: u8;
    /// callback_num_atag: display tag of the callback number (data coding + text).
    CallbackNumAtag, callback_num_atag, CALLBACK_NUM_ATAG = 0x0303: octets;
    /// number_of_messages: messages waiting in a mailbox.
    NumberOfMessages, number_of_messages, NUMBER_OF_MESSAGES = 0x0304: u8;
    /// callback_num: a callback number (digit mode, TON, NPI, digits).
    CallbackNum, callback_num, CALLBACK_NUM = 0x0381: octets;
    /// dpf_result: whether a delivery pending flag was set.
    DpfResult, dpf_result, DPF_RESULT = 0x0420: u8;
    /// set_dpf: request to set a delivery pending flag.
    SetDpf, set_dpf, SET_DPF = 0x0421: u8;
    /// ms_availability_status: handset availability, in alert_notification.
    MsAvailabilityStatus, ms_availability_status, MS_AVAILABILITY_STATUS = 0x0422: u8;
    /// network_error_code: the network's reason for a failure.
    NetworkErrorCode, network_error_code, NETWORK_ERROR_CODE = 0x0423: NetworkErrorCode;
    /// message_payload: user data longer than short_message allows.
    MessagePayload, message_payload, MESSAGE_PAYLOAD = 0x0424: octets;
    /// delivery_failure_reason: why a data_sm failed.
    DeliveryFailureReason, delivery_failure_reason, DELIVERY_FAILURE_REASON = 0x0425: u8;
    /// more_messages_to_send: more messages follow.
    MoreMessagesToSend, more_messages_to_send, MORE_MESSAGES_TO_SEND = 0x0426: u8;
    /// message_state: the state a receipt reports (see [`crate::MessageState`]).
    MessageState, message_state, MESSAGE_STATE = 0x0427: u8;
    /// congestion_state (SMPP 5.0): load of the sender, 0–100.
    CongestionState, congestion_state, CONGESTION_STATE = 0x0428: u8;
    /// ussd_service_op: USSD operation.
    UssdServiceOp, ussd_service_op, USSD_SERVICE_OP = 0x0501: u8;
    /// broadcast_channel_indicator (SMPP 5.0).
    BroadcastChannelIndicator, broadcast_channel_indicator, BROADCAST_CHANNEL_INDICATOR = 0x0600: u8;
    /// broadcast_content_type (SMPP 5.0).
    BroadcastContentType, broadcast_content_type, BROADCAST_CONTENT_TYPE = 0x0601: BroadcastContentType;
    /// broadcast_content_type_info (SMPP 5.0).
    BroadcastContentTypeInfo, broadcast_content_type_info, BROADCAST_CONTENT_TYPE_INFO = 0x0602: octets;
    /// broadcast_message_class (SMPP 5.0).
    BroadcastMessageClass, broadcast_message_class, BROADCAST_MESSAGE_CLASS = 0x0603: u8;
    /// broadcast_rep_num (SMPP 5.0): how many times to repeat.
    BroadcastRepNum, broadcast_rep_num, BROADCAST_REP_NUM = 0x0604: u16;
    /// broadcast_frequency_interval (SMPP 5.0).
    BroadcastFrequencyInterval, broadcast_frequency_interval, BROADCAST_FREQUENCY_INTERVAL = 0x0605: BroadcastFrequencyInterval;
    /// broadcast_area_identifier (SMPP 5.0): format octet + area.
    BroadcastAreaIdentifier, broadcast_area_identifier, BROADCAST_AREA_IDENTIFIER = 0x0606: octets;
    /// broadcast_error_status (SMPP 5.0): a command status.
    BroadcastErrorStatus, broadcast_error_status, BROADCAST_ERROR_STATUS = 0x0607: u32;
    /// broadcast_area_success (SMPP 5.0): percentage reached.
    BroadcastAreaSuccess, broadcast_area_success, BROADCAST_AREA_SUCCESS = 0x0608: u8;
    /// broadcast_end_time (SMPP 5.0): an SMPP time.
    BroadcastEndTime, broadcast_end_time, BROADCAST_END_TIME = 0x0609: cstr;
    /// broadcast_service_group (SMPP 5.0).
    BroadcastServiceGroup, broadcast_service_group, BROADCAST_SERVICE_GROUP = 0x060A: octets;
    /// billing_identification (SMPP 5.0).
    BillingIdentification, billing_identification, BILLING_IDENTIFICATION = 0x060B: octets;
    /// source_network_id (SMPP 5.0).
    SourceNetworkId, source_network_id, SOURCE_NETWORK_ID = 0x060D: cstr;
    /// dest_network_id (SMPP 5.0).
    DestNetworkId, dest_network_id, DEST_NETWORK_ID = 0x060E: cstr;
    /// source_node_id (SMPP 5.0): six decimal digits.
    SourceNodeId, source_node_id, SOURCE_NODE_ID = 0x060F: octets;
    /// dest_node_id (SMPP 5.0): six decimal digits.
    DestNodeId, dest_node_id, DEST_NODE_ID = 0x0610: octets;
    /// dest_addr_np_resolution (SMPP 5.0): number portability query result.
    DestAddrNpResolution, dest_addr_np_resolution, DEST_ADDR_NP_RESOLUTION = 0x0611: u8;
    /// dest_addr_np_information (SMPP 5.0).
    DestAddrNpInformation, dest_addr_np_information, DEST_ADDR_NP_INFORMATION = 0x0612: octets;
    /// dest_addr_np_country (SMPP 5.0): E.164 country code digits.
    DestAddrNpCountry, dest_addr_np_country, DEST_ADDR_NP_COUNTRY = 0x0613: octets;
    /// display_time: how the handset displays the message.
    DisplayTime, display_time, DISPLAY_TIME = 0x1201: u8;
    /// sms_signal: alerting tone (TDMA).
    SmsSignal, sms_signal, SMS_SIGNAL = 0x1203: u16;
    /// ms_validity: validity behaviour on the handset.
    MsValidity, ms_validity, MS_VALIDITY = 0x1204: MsValidity;
    /// alert_on_message_delivery: alert the user; no value in 3.4, a level in 5.0.
    AlertOnMessageDelivery, alert_on_message_delivery, ALERT_ON_MESSAGE_DELIVERY = 0x130C: flag;
    /// its_reply_type: reply method (CDMA ITS).
    ItsReplyType, its_reply_type, ITS_REPLY_TYPE = 0x1380: u8;
    /// its_session_info: session number and sequence (CDMA ITS).
    ItsSessionInfo, its_session_info, ITS_SESSION_INFO = 0x1383: u16;
}

impl Tlv<'_> {
    /// Appends this TLV (tag, length, value) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        out.extend_from_slice(&self.tag().0.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        if let Err(e) = self.write_value(out) {
            out.truncate(start);
            return Err(e);
        }
        let len = out.len() - start - 4;
        let Ok(len16) = u16::try_from(len) else {
            out.truncate(start);
            return Err(EncodeError::TlvTooLong {
                tag: self.tag(),
                len,
            });
        };
        if let Some(slot) = out.get_mut(start + 2..start + 4) {
            slot.copy_from_slice(&len16.to_be_bytes());
        }
        Ok(())
    }
}

/// Where a TLV area stops being well formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("TLV area malformed at offset {valid_len}")]
pub struct TlvStreamError {
    /// Octets of well-formed TLVs before the fault.
    pub valid_len: usize,
}

/// Checks that `bytes` is a sequence of whole TLVs.
fn check_stream(bytes: &[u8]) -> Result<(), TlvStreamError> {
    let mut rest = bytes;
    while !rest.is_empty() {
        match split_raw(rest) {
            Some((_, _, tail)) => rest = tail,
            None => {
                return Err(TlvStreamError {
                    valid_len: bytes.len() - rest.len(),
                });
            }
        }
    }
    Ok(())
}

/// Splits the first TLV off `bytes`: (tag, value, rest).
#[inline]
fn split_raw(bytes: &[u8]) -> Option<(Tag, &[u8], &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    let tag = Tag(u16::from_be_bytes([head[0], head[1]]));
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let (value, tail) = rest.split_at_checked(len)?;
    Some((tag, value, tail))
}

/// The TLV area of a body: well-formed TLV octets, borrowed from the PDU or owned.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Tlvs<'a> {
    bytes: Cow<'a, [u8]>,
}

impl<'a> Tlvs<'a> {
    /// No TLVs.
    pub const EMPTY: Tlvs<'static> = Tlvs {
        bytes: Cow::Borrowed(&[]),
    };

    /// Wraps octets that must be whole TLVs.
    pub fn from_wire(bytes: &'a [u8]) -> Result<Tlvs<'a>, TlvStreamError> {
        check_stream(bytes)?;
        Ok(Tlvs {
            bytes: Cow::Borrowed(bytes),
        })
    }

    /// Wraps the longest well-formed prefix of `bytes` (responses: trailing garbage dropped).
    pub(crate) fn valid_prefix(bytes: &'a [u8]) -> Tlvs<'a> {
        let len = match check_stream(bytes) {
            Ok(()) => bytes.len(),
            Err(e) => e.valid_len,
        };
        Tlvs {
            bytes: Cow::Borrowed(bytes.get(..len).unwrap_or_default()),
        }
    }

    /// Encodes `list` into `scratch` (cleared first) and borrows it: TLVs for a PDU built on
    /// the hot path without allocating once `scratch` has grown.
    pub fn build<'s>(scratch: &'s mut Vec<u8>, list: &[Tlv<'_>]) -> Result<Tlvs<'s>, EncodeError> {
        scratch.clear();
        for tlv in list {
            tlv.encode(scratch)?;
        }
        Ok(Tlvs {
            bytes: Cow::Borrowed(scratch.as_slice()),
        })
    }

    /// Encodes `list` into owned TLVs.
    pub fn from_list(list: &[Tlv<'_>]) -> Result<Tlvs<'static>, EncodeError> {
        let mut bytes = Vec::new();
        for tlv in list {
            tlv.encode(&mut bytes)?;
        }
        Ok(Tlvs {
            bytes: Cow::Owned(bytes),
        })
    }

    /// The TLV octets as they go on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True when there are no TLVs.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The TLVs in order, typed.
    pub fn iter(&self) -> TlvIter<'_> {
        TlvIter { rest: &self.bytes }
    }

    /// The TLVs in order as (tag, value octets), untyped.
    pub fn raw(&self) -> RawTlvIter<'_> {
        RawTlvIter { rest: &self.bytes }
    }

    /// The first TLV with `tag`.
    pub fn get(&self, tag: Tag) -> Option<Tlv<'_>> {
        self.raw()
            .find(|(t, _)| *t == tag)
            .map(|(t, v)| Tlv::from_raw(t, v))
    }

    /// The first known tag whose value does not fit its type (answer `ESME_RINVPARLEN` if
    /// the connector is strict).
    pub fn first_malformed(&self) -> Option<Tag> {
        self.iter().find_map(|tlv| match tlv {
            Tlv::Other { tag, .. } if tag.name().is_some() => Some(tag),
            _ => None,
        })
    }

    /// Copies borrowed octets so the TLVs outlive the read buffer.
    pub fn into_owned(self) -> Tlvs<'static> {
        Tlvs {
            bytes: Cow::Owned(self.bytes.into_owned()),
        }
    }
}

impl fmt::Debug for Tlvs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'t> IntoIterator for &'t Tlvs<'_> {
    type Item = Tlv<'t>;
    type IntoIter = TlvIter<'t>;
    fn into_iter(self) -> TlvIter<'t> {
        self.iter()
    }
}

/// Iterator over typed TLVs; see [`Tlvs::iter`].
#[derive(Clone, Debug)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Tlv<'a>;

    #[inline]
    fn next(&mut self) -> Option<Tlv<'a>> {
        let (tag, value, rest) = split_raw(self.rest)?;
        self.rest = rest;
        Some(Tlv::from_raw(tag, value))
    }
}

/// Iterator over (tag, value) pairs; see [`Tlvs::raw`].
#[derive(Clone, Debug)]
pub struct RawTlvIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RawTlvIter<'a> {
    type Item = (Tag, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<(Tag, &'a [u8])> {
        let (tag, value, rest) = split_raw(self.rest)?;
        self.rest = rest;
        Some((tag, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_has_a_unique_name() {
        let mut names: Vec<_> = Tag::ALL.iter().filter_map(|t| t.name()).collect();
        assert_eq!(names.len(), Tag::ALL.len());
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Tag::ALL.len());
    }

    #[test]
    fn wrong_length_for_a_known_tag_is_kept_raw() {
        let wire = [0x04, 0x27, 0x00, 0x02, 0x01, 0x02];
        let tlvs = Tlvs::from_wire(&wire).expect("well formed stream");
        assert_eq!(tlvs.message_state(), None);
        assert_eq!(tlvs.first_malformed(), Some(Tag::MESSAGE_STATE));
        assert_eq!(
            tlvs.iter().next(),
            Some(Tlv::Other {
                tag: Tag::MESSAGE_STATE,
                value: &[1, 2]
            })
        );
    }

    #[test]
    fn cstr_tlv_reads_with_or_without_its_nul() {
        assert_eq!(
            Tlv::from_raw(Tag::RECEIPTED_MESSAGE_ID, b"ab\0"),
            Tlv::ReceiptedMessageId(b"ab")
        );
        assert_eq!(
            Tlv::from_raw(Tag::RECEIPTED_MESSAGE_ID, b"ab"),
            Tlv::ReceiptedMessageId(b"ab")
        );
        assert!(matches!(
            Tlv::from_raw(Tag::RECEIPTED_MESSAGE_ID, b"a\0b"),
            Tlv::Other { .. }
        ));
    }

    #[test]
    fn vendor_tlvs_keep_their_order_and_octets() {
        let list = [
            Tlv::Other {
                tag: Tag(0x1400),
                value: b"v1",
            },
            Tlv::MessageState(2),
            Tlv::Other {
                tag: Tag(0x3FFF),
                value: b"",
            },
        ];
        let tlvs = Tlvs::from_list(&list).expect("encodable");
        assert_eq!(tlvs.iter().collect::<Vec<_>>(), list);
        assert!(Tag(0x1400).is_vendor() && !Tag(0x4000).is_vendor());
    }

    #[test]
    fn truncated_stream_reports_the_valid_prefix() {
        let wire = [0x04, 0x27, 0x00, 0x01, 0x02, 0x04, 0x27, 0x00];
        assert_eq!(Tlvs::from_wire(&wire), Err(TlvStreamError { valid_len: 5 }));
        assert_eq!(Tlvs::valid_prefix(&wire).as_bytes(), &wire[..5]);
    }

    #[test]
    fn cstr_tlv_with_inner_nul_is_refused_on_encode() {
        let mut out = vec![9];
        assert!(Tlv::ReceiptedMessageId(b"a\0").encode(&mut out).is_err());
        assert_eq!(out, [9]);
    }
}
