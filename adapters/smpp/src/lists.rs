//! The two counted lists of SMPP 3.4: submit_multi's dest_address list (§4.5.1.1) and
//! submit_multi_resp's unsuccess_sme list (§4.5.2.1).
//!
//! Like [`crate::Tlvs`], each list keeps its octets as they came (borrowed on decode) and
//! is read through an iterator, so decoding a submit_multi allocates nothing.

use std::borrow::Cow;
use std::fmt;

use crate::command::CommandStatus;
use crate::error::{EncodeError, FieldError};
use crate::limits::{ADDRESS_MAX_LEN, DL_NAME_MAX_LEN};
use crate::wire::{Reader, put_cstr};

const DEST_FLAG_SME: u8 = 1;
const DEST_FLAG_DISTRIBUTION_LIST: u8 = 2;

/// One destination of a submit_multi.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DestAddress<'a> {
    /// dest_flag 1: an SME address.
    Sme {
        /// dest_addr_ton.
        ton: u8,
        /// dest_addr_npi.
        npi: u8,
        /// destination_addr.
        address: &'a [u8],
    },
    /// dest_flag 2: a distribution list held by the SMSC.
    DistributionList {
        /// dl_name.
        name: &'a [u8],
    },
}

impl<'a> DestAddress<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, FieldError> {
        match r.u8("dest_flag")? {
            DEST_FLAG_SME => Ok(DestAddress::Sme {
                ton: r.u8("dest_addr_ton")?,
                npi: r.u8("dest_addr_npi")?,
                address: r.cstr_terminated(
                    "destination_addr",
                    ADDRESS_MAX_LEN,
                    CommandStatus::ESME_RINVDSTADR,
                )?,
            }),
            DEST_FLAG_DISTRIBUTION_LIST => Ok(DestAddress::DistributionList {
                name: r.cstr_terminated(
                    "dl_name",
                    DL_NAME_MAX_LEN,
                    CommandStatus::ESME_RINVDLNAME,
                )?,
            }),
            flag => Err(FieldError {
                status: CommandStatus::ESME_RINVDESTFLAG,
                kind: crate::DecodeErrorKind::DestFlag { flag },
            }),
        }
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            DestAddress::Sme { ton, npi, address } => {
                out.extend_from_slice(&[DEST_FLAG_SME, *ton, *npi]);
                put_cstr(out, address, "destination_addr", ADDRESS_MAX_LEN)
            }
            DestAddress::DistributionList { name } => {
                out.push(DEST_FLAG_DISTRIBUTION_LIST);
                put_cstr(out, name, "dl_name", DL_NAME_MAX_LEN)
            }
        }
    }
}

/// One destination a submit_multi could not reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnsuccessSme<'a> {
    /// dest_addr_ton.
    pub ton: u8,
    /// dest_addr_npi.
    pub npi: u8,
    /// destination_addr.
    pub address: &'a [u8],
    /// error_status_code: why.
    pub error_status: CommandStatus,
}

impl<'a> UnsuccessSme<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, FieldError> {
        Ok(UnsuccessSme {
            ton: r.u8("dest_addr_ton")?,
            npi: r.u8("dest_addr_npi")?,
            address: r.cstr_terminated(
                "destination_addr",
                ADDRESS_MAX_LEN,
                CommandStatus::ESME_RINVDSTADR,
            )?,
            error_status: CommandStatus(r.u32("error_status_code")?),
        })
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(&[self.ton, self.npi]);
        put_cstr(out, self.address, "destination_addr", ADDRESS_MAX_LEN)?;
        out.extend_from_slice(&self.error_status.0.to_be_bytes());
        Ok(())
    }
}

macro_rules! counted_list {
    ($(#[$doc:meta])* $name:ident, $iter:ident, $item:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name<'a> {
            count: u8,
            bytes: Cow<'a, [u8]>,
        }

        impl<'a> $name<'a> {
            /// Reads the count octet and that many entries.
            pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, FieldError> {
                let count = r.u8($field)?;
                let start = r.rest();
                let mut probe = Reader::new(start, false);
                for _ in 0..count {
                    $item::read(&mut probe)?;
                }
                r.advance(probe.pos());
                Ok($name {
                    count,
                    bytes: Cow::Borrowed(start.get(..probe.pos()).unwrap_or_default()),
                })
            }

            /// Appends the count octet and the entries.
            pub(crate) fn write(&self, out: &mut Vec<u8>) {
                out.push(self.count);
                out.extend_from_slice(&self.bytes);
            }

            /// Encodes `list` into an owned list.
            pub fn from_list(list: &[$item<'_>]) -> Result<$name<'static>, EncodeError> {
                let count = u8::try_from(list.len()).map_err(|_| EncodeError::TooManyEntries {
                    field: $field,
                    count: list.len(),
                })?;
                let mut bytes = Vec::new();
                for entry in list {
                    entry.write(&mut bytes)?;
                }
                Ok($name {
                    count,
                    bytes: Cow::Owned(bytes),
                })
            }

            /// Number of entries.
            pub fn len(&self) -> usize {
                usize::from(self.count)
            }

            /// True when the list has no entries.
            pub fn is_empty(&self) -> bool {
                self.count == 0
            }

            /// The entries in order.
            pub fn iter(&self) -> $iter<'_> {
                $iter {
                    reader: Reader::new(&self.bytes, false),
                    left: self.count,
                }
            }

            /// Copies borrowed octets so the list outlives the read buffer.
            pub fn into_owned(self) -> $name<'static> {
                $name {
                    count: self.count,
                    bytes: Cow::Owned(self.bytes.into_owned()),
                }
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.iter()).finish()
            }
        }

        /// Iterator over the entries of a list.
        pub struct $iter<'a> {
            reader: Reader<'a>,
            left: u8,
        }

        impl<'a> Iterator for $iter<'a> {
            type Item = $item<'a>;

            fn next(&mut self) -> Option<$item<'a>> {
                self.left = self.left.checked_sub(1)?;
                // The octets were checked when the list was built; an error cannot occur.
                $item::read(&mut self.reader).ok()
            }
        }
    };
}

counted_list!(
    /// submit_multi's destinations: number_of_dests and the dest_address entries.
    DestAddresses,
    DestAddressIter,
    DestAddress,
    "number_of_dests"
);

counted_list!(
    /// submit_multi_resp's failures: no_unsuccess and the unsuccess_sme entries.
    UnsuccessSmes,
    UnsuccessSmeIter,
    UnsuccessSme,
    "no_unsuccess"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dest_addresses_read_back_both_kinds_in_order() {
        let list = [
            DestAddress::Sme {
                ton: 1,
                npi: 1,
                address: b"447700900001",
            },
            DestAddress::DistributionList { name: b"friends" },
        ];
        let built = DestAddresses::from_list(&list).expect("encodable");
        let mut wire = Vec::new();
        built.write(&mut wire);
        let mut r = Reader::new(&wire, false);
        let read = DestAddresses::read(&mut r).expect("decodable");
        assert!(r.at_end());
        assert_eq!(read.iter().collect::<Vec<_>>(), list);
        assert_eq!(read, built);
    }

    #[test]
    fn unknown_dest_flag_is_answered_with_invdestflag() {
        let wire = [1, 3, 0];
        let mut r = Reader::new(&wire, false);
        let err = DestAddresses::read(&mut r).unwrap_err();
        assert_eq!(err.status, CommandStatus::ESME_RINVDESTFLAG);
    }

    #[test]
    fn count_larger_than_the_entries_present_is_an_error() {
        let wire = [2, 1, 1, 1, b'1', 0];
        let mut r = Reader::new(&wire, false);
        assert!(DestAddresses::read(&mut r).is_err());
    }
}
