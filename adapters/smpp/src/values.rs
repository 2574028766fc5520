//! Meanings of the one-octet fields: esm_class, registered_delivery, data_coding,
//! message_state, TON, NPI, interface_version.
//!
//! Bodies keep these as the `u8` that came on the wire, so an unusual value is carried
//! through; the newtypes here read and build them.

use core::fmt;

/// interface_version of SMPP 3.3 peers (and the floor of "3.3 or older").
pub const INTERFACE_VERSION_33: u8 = 0x33;
/// interface_version of SMPP 3.4.
pub const INTERFACE_VERSION_34: u8 = 0x34;
/// interface_version of SMPP 5.0.
pub const INTERFACE_VERSION_50: u8 = 0x50;

/// True if a peer of this interface_version understands TLVs (SMPP 3.4 and later).
pub const fn supports_tlvs(interface_version: u8) -> bool {
    interface_version >= INTERFACE_VERSION_34
}

/// Type of number (TON) values (§5.2.5).
pub mod ton {
    /// Unknown.
    pub const UNKNOWN: u8 = 0;
    /// International (E.164 with country code).
    pub const INTERNATIONAL: u8 = 1;
    /// National.
    pub const NATIONAL: u8 = 2;
    /// Network specific.
    pub const NETWORK_SPECIFIC: u8 = 3;
    /// Subscriber number.
    pub const SUBSCRIBER_NUMBER: u8 = 4;
    /// Alphanumeric sender id.
    pub const ALPHANUMERIC: u8 = 5;
    /// Abbreviated (short code).
    pub const ABBREVIATED: u8 = 6;
}

/// Numbering plan indicator (NPI) values (§5.2.6).
pub mod npi {
    /// Unknown.
    pub const UNKNOWN: u8 = 0;
    /// ISDN (E.163/E.164).
    pub const ISDN: u8 = 1;
    /// Data (X.121).
    pub const DATA: u8 = 3;
    /// Telex (F.69).
    pub const TELEX: u8 = 4;
    /// Land mobile (E.212).
    pub const LAND_MOBILE: u8 = 6;
    /// National.
    pub const NATIONAL: u8 = 8;
    /// Private.
    pub const PRIVATE: u8 = 9;
    /// ERMES.
    pub const ERMES: u8 = 10;
    /// Internet (IP).
    pub const INTERNET: u8 = 14;
    /// WAP client id.
    pub const WAP_CLIENT_ID: u8 = 18;
}

/// data_coding values (§5.2.19), kept as `u8`; the text codecs live in the sms crate.
pub mod data_coding {
    /// SMSC default alphabet (GSM 03.38 on most links, sometimes Latin-1: per connector).
    pub const SMSC_DEFAULT: u8 = 0x00;
    /// IA5 (CCITT T.50) / ASCII.
    pub const IA5: u8 = 0x01;
    /// 8-bit binary.
    pub const OCTET_UNSPECIFIED: u8 = 0x02;
    /// Latin-1 (ISO-8859-1).
    pub const LATIN1: u8 = 0x03;
    /// 8-bit binary (the other code point).
    pub const OCTET_UNSPECIFIED_2: u8 = 0x04;
    /// JIS (X 0208-1990).
    pub const JIS: u8 = 0x05;
    /// Cyrillic (ISO-8859-5).
    pub const CYRILLIC: u8 = 0x06;
    /// Latin/Hebrew (ISO-8859-8).
    pub const LATIN_HEBREW: u8 = 0x07;
    /// UCS-2 (ISO/IEC-10646), big-endian.
    pub const UCS2: u8 = 0x08;
    /// Pictogram encoding.
    pub const PICTOGRAM: u8 = 0x09;
    /// ISO-2022-JP (music codes).
    pub const ISO_2022_JP: u8 = 0x0A;
    /// Extended Kanji JIS (X 0212-1990).
    pub const EXTENDED_KANJI_JIS: u8 = 0x0D;
    /// KS C 5601.
    pub const KS_C_5601: u8 = 0x0E;

    /// The GSM 03.38 general data coding group (0x10–0x3F, uncompressed): its alphabet
    /// bits (3..2), or `None` outside the group.
    const fn general_group_alphabet(dcs: u8) -> Option<u8> {
        if dcs > 0x0F && dcs & 0xC0 == 0 && dcs & 0x20 == 0 {
            Some(dcs & 0x0C)
        } else {
            None
        }
    }

    /// True for 8-bit data: the two SMPP binary code points, the GSM general group with
    /// 8-bit alphabet, and the GSM data coding/message class group with 8-bit data.
    pub const fn is_binary(dcs: u8) -> bool {
        matches!(dcs, OCTET_UNSPECIFIED | OCTET_UNSPECIFIED_2)
            || matches!(general_group_alphabet(dcs), Some(0x04))
            || (dcs & 0xF4) == 0xF4
    }

    /// True for UCS-2: the SMPP code point, the GSM general group with UCS-2 alphabet and
    /// the GSM message waiting group that stores UCS-2 (0xE0–0xEF).
    pub const fn is_ucs2(dcs: u8) -> bool {
        dcs == UCS2 || matches!(general_group_alphabet(dcs), Some(0x08)) || dcs & 0xF0 == 0xE0
    }
}

/// esm_class (§5.2.12): messaging mode, message type and GSM features.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EsmClass(pub u8);

impl EsmClass {
    /// Mask of the messaging mode (bits 1..0).
    pub const MODE_MASK: u8 = 0x03;
    /// Default SMSC mode (store and forward unless configured otherwise).
    pub const MODE_DEFAULT: u8 = 0x00;
    /// Datagram mode.
    pub const MODE_DATAGRAM: u8 = 0x01;
    /// Forward (transaction) mode.
    pub const MODE_FORWARD: u8 = 0x02;
    /// Store and forward mode.
    pub const MODE_STORE_AND_FORWARD: u8 = 0x03;
    /// Mask of the message type (bits 5..2).
    pub const TYPE_MASK: u8 = 0x3C;
    /// Message type: a normal message.
    pub const TYPE_DEFAULT: u8 = 0x00;
    /// Message type: SMSC delivery receipt (deliver_sm).
    pub const TYPE_DELIVERY_RECEIPT: u8 = 0x04;
    /// Message type: SME delivery acknowledgement.
    pub const TYPE_DELIVERY_ACK: u8 = 0x08;
    /// Message type: SME manual/user acknowledgement.
    pub const TYPE_USER_ACK: u8 = 0x10;
    /// Message type: conversation abort (Korean CDMA).
    pub const TYPE_CONVERSATION_ABORT: u8 = 0x18;
    /// Message type: intermediate delivery notification.
    pub const TYPE_INTERMEDIATE_NOTIFICATION: u8 = 0x20;
    /// GSM: the short message starts with a user data header.
    pub const UDHI: u8 = 0x40;
    /// GSM: reply path set.
    pub const REPLY_PATH: u8 = 0x80;

    /// The messaging mode bits.
    pub const fn mode(self) -> u8 {
        self.0 & Self::MODE_MASK
    }

    /// The message type bits.
    pub const fn message_type(self) -> u8 {
        self.0 & Self::TYPE_MASK
    }

    /// True if this deliver_sm is an SMSC delivery receipt or an intermediate notification.
    pub const fn is_receipt(self) -> bool {
        matches!(
            self.message_type(),
            Self::TYPE_DELIVERY_RECEIPT | Self::TYPE_INTERMEDIATE_NOTIFICATION
        )
    }

    /// True if the user data begins with a UDH.
    pub const fn has_udhi(self) -> bool {
        self.0 & Self::UDHI != 0
    }

    /// The same class with the UDHI bit set or cleared.
    pub const fn with_udhi(self, udhi: bool) -> EsmClass {
        if udhi {
            EsmClass(self.0 | Self::UDHI)
        } else {
            EsmClass(self.0 & !Self::UDHI)
        }
    }
}

impl fmt::Debug for EsmClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EsmClass(0x{:02x})", self.0)
    }
}

/// Which SMSC receipt a registered_delivery asks for (bits 1..0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmscReceipt {
    /// 00: none.
    None,
    /// 01: on final success or failure.
    OnFinal,
    /// 10: on failure only.
    OnFailure,
    /// 11 (SMPP 5.0): on success only.
    OnSuccess,
}

/// registered_delivery (§5.2.17): SMSC receipt, SME acknowledgements, intermediate
/// notification.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RegisteredDelivery(pub u8);

impl RegisteredDelivery {
    /// No receipt of any kind.
    pub const NONE: RegisteredDelivery = RegisteredDelivery(0x00);
    /// SMSC receipt on final success or failure (the usual "1").
    pub const RECEIPT_ON_FINAL: RegisteredDelivery = RegisteredDelivery(0x01);
    /// SMSC receipt on failure only.
    pub const RECEIPT_ON_FAILURE: RegisteredDelivery = RegisteredDelivery(0x02);
    /// Bit asking for SME delivery acknowledgement.
    pub const SME_DELIVERY_ACK: u8 = 0x04;
    /// Bit asking for SME manual/user acknowledgement.
    pub const SME_USER_ACK: u8 = 0x08;
    /// Bit asking for intermediate notifications.
    pub const INTERMEDIATE_NOTIFICATION: u8 = 0x10;

    /// The SMSC receipt requested.
    pub const fn smsc_receipt(self) -> SmscReceipt {
        match self.0 & 0x03 {
            0 => SmscReceipt::None,
            1 => SmscReceipt::OnFinal,
            2 => SmscReceipt::OnFailure,
            _ => SmscReceipt::OnSuccess,
        }
    }

    /// True if a receipt is due for a message that ended in success (`delivered`) or
    /// failure.
    pub const fn wants_receipt(self, delivered: bool) -> bool {
        match self.smsc_receipt() {
            SmscReceipt::None => false,
            SmscReceipt::OnFinal => true,
            SmscReceipt::OnFailure => !delivered,
            SmscReceipt::OnSuccess => delivered,
        }
    }

    /// True if intermediate notifications are requested.
    pub const fn wants_intermediate(self) -> bool {
        self.0 & Self::INTERMEDIATE_NOTIFICATION != 0
    }
}

impl fmt::Debug for RegisteredDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegisteredDelivery(0x{:02x})", self.0)
    }
}

/// message_state (§5.2.28; SKIPPED from SMPP 5.0).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MessageState(pub u8);

impl MessageState {
    /// Scheduled (SMPP 5.0).
    pub const SCHEDULED: MessageState = MessageState(0);
    /// In transit.
    pub const ENROUTE: MessageState = MessageState(1);
    /// Delivered to the handset.
    pub const DELIVERED: MessageState = MessageState(2);
    /// Validity period expired.
    pub const EXPIRED: MessageState = MessageState(3);
    /// Deleted.
    pub const DELETED: MessageState = MessageState(4);
    /// Undeliverable.
    pub const UNDELIVERABLE: MessageState = MessageState(5);
    /// Accepted (read by a user or an application on the SMSC).
    pub const ACCEPTED: MessageState = MessageState(6);
    /// Unknown state.
    pub const UNKNOWN: MessageState = MessageState(7);
    /// Rejected.
    pub const REJECTED: MessageState = MessageState(8);
    /// Skipped (SMPP 5.0).
    pub const SKIPPED: MessageState = MessageState(9);

    /// True if no further receipt will follow (every state but scheduled, enroute and
    /// unknown).
    pub const fn is_final(self) -> bool {
        matches!(self.0, 2..=6 | 8 | 9)
    }

    /// The specification's name (`"DELIVERED"`), or `None` for other values.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "SCHEDULED",
            1 => "ENROUTE",
            2 => "DELIVERED",
            3 => "EXPIRED",
            4 => "DELETED",
            5 => "UNDELIVERABLE",
            6 => "ACCEPTED",
            7 => "UNKNOWN",
            8 => "REJECTED",
            9 => "SKIPPED",
            _ => return None,
        })
    }
}

impl fmt::Debug for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "message_state({})", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esm_class_reads_receipt_and_udhi_bits() {
        let class = EsmClass(0x44);
        assert!(class.is_receipt());
        assert!(class.has_udhi());
        assert_eq!(class.with_udhi(false), EsmClass(0x04));
        assert!(!EsmClass(0x03).is_receipt());
        assert_eq!(EsmClass(0x03).mode(), EsmClass::MODE_STORE_AND_FORWARD);
    }

    #[test]
    fn registered_delivery_says_when_a_receipt_is_due() {
        assert!(RegisteredDelivery(1).wants_receipt(true));
        assert!(!RegisteredDelivery(2).wants_receipt(true));
        assert!(RegisteredDelivery(2).wants_receipt(false));
        assert!(!RegisteredDelivery(0x10).wants_receipt(false));
        assert!(RegisteredDelivery(0x11).wants_intermediate());
    }

    #[test]
    fn data_coding_classifies_binary_and_ucs2() {
        assert!(data_coding::is_binary(0x04) && data_coding::is_binary(0xF5));
        assert!(data_coding::is_binary(0x15) && !data_coding::is_binary(0x35));
        assert!(!data_coding::is_binary(0xF0));
        assert!(data_coding::is_ucs2(0x08) && data_coding::is_ucs2(0x18));
        assert!(!data_coding::is_ucs2(0x00) && !data_coding::is_ucs2(0xF0));
    }

    #[test]
    fn message_state_names_and_finality() {
        assert_eq!(format!("{:?}", MessageState::DELIVERED), "DELIVERED");
        assert!(MessageState::SKIPPED.is_final());
        assert!(!MessageState::ENROUTE.is_final());
        assert_eq!(MessageState(42).name(), None);
    }
}
