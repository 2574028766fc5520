//! User Data Header (3GPP TS 23.040 9.2.3.24): parsing and building its information
//! elements (IEs).
//!
//! Parsing borrows from the user data and never panics. Framing errors (a header length or
//! an IE length that runs past the data) are typed errors; an IE that the parser knows but
//! whose length is wrong for its kind is returned as [`InformationElement::Other`] rather
//! than rejected, because handsets and SMSCs in the field send such headers and the rest of
//! the message is still worth delivering.

use crate::gsm7::{Gsm7Tables, Language};

/// Concatenated short message, 8-bit reference.
pub const IEI_CONCAT_8: u8 = 0x00;
/// Application port addressing, 8-bit ports.
pub const IEI_PORTS_8: u8 = 0x04;
/// Application port addressing, 16-bit ports.
pub const IEI_PORTS_16: u8 = 0x05;
/// Concatenated short message, 16-bit reference.
pub const IEI_CONCAT_16: u8 = 0x08;
/// National language single shift.
pub const IEI_NATIONAL_SINGLE_SHIFT: u8 = 0x24;
/// National language locking shift.
pub const IEI_NATIONAL_LOCKING_SHIFT: u8 = 0x25;

/// Longest header length (UDHL) value: the header and its length octet fill 140 octets.
pub const MAX_UDHL: usize = 139;

/// Width of a concatenation reference number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefWidth {
    /// IE 0x00: a reference of one octet (5-octet IE).
    Eight,
    /// IE 0x08: a reference of two octets (6-octet IE).
    Sixteen,
}

impl RefWidth {
    /// Octets the concatenation IE takes, its identifier and length octets included.
    pub fn ie_octets(self) -> usize {
        match self {
            RefWidth::Eight => 5,
            RefWidth::Sixteen => 6,
        }
    }
}

/// One information element of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InformationElement<'a> {
    /// Concatenation with an 8-bit reference.
    Concat8 {
        /// Reference shared by all parts of one message.
        reference: u8,
        /// Number of parts (1..=255).
        total: u8,
        /// This part's sequence number (1..=total).
        seq: u8,
    },
    /// Concatenation with a 16-bit reference.
    Concat16 {
        /// Reference shared by all parts of one message.
        reference: u16,
        /// Number of parts (1..=255).
        total: u8,
        /// This part's sequence number (1..=total).
        seq: u8,
    },
    /// Application ports, 8-bit.
    Ports8 {
        /// Destination port.
        destination: u8,
        /// Originator port.
        source: u8,
    },
    /// Application ports, 16-bit.
    Ports16 {
        /// Destination port.
        destination: u16,
        /// Originator port.
        source: u16,
    },
    /// National language single shift table (raw identifier; see [`Language::from_id`]).
    NationalSingleShift(u8),
    /// National language locking shift table (raw identifier).
    NationalLockingShift(u8),
    /// Any other IE, or a known one whose length is wrong for its kind.
    Other {
        /// The identifier.
        iei: u8,
        /// The data (at most 255 octets).
        data: &'a [u8],
    },
}

impl<'a> InformationElement<'a> {
    fn from_raw(iei: u8, data: &'a [u8]) -> InformationElement<'a> {
        match (iei, data) {
            (IEI_CONCAT_8, &[reference, total, seq]) => InformationElement::Concat8 {
                reference,
                total,
                seq,
            },
            (IEI_CONCAT_16, &[r0, r1, total, seq]) => InformationElement::Concat16 {
                reference: u16::from_be_bytes([r0, r1]),
                total,
                seq,
            },
            (IEI_PORTS_8, &[destination, source]) => InformationElement::Ports8 {
                destination,
                source,
            },
            (IEI_PORTS_16, &[d0, d1, s0, s1]) => InformationElement::Ports16 {
                destination: u16::from_be_bytes([d0, d1]),
                source: u16::from_be_bytes([s0, s1]),
            },
            (IEI_NATIONAL_SINGLE_SHIFT, &[id]) => InformationElement::NationalSingleShift(id),
            (IEI_NATIONAL_LOCKING_SHIFT, &[id]) => InformationElement::NationalLockingShift(id),
            _ => InformationElement::Other { iei, data },
        }
    }

    /// Octets the IE takes when written, identifier and length octets included.
    pub fn encoded_len(&self) -> usize {
        2 + match self {
            InformationElement::Concat8 { .. } => 3,
            InformationElement::Concat16 { .. } => 4,
            InformationElement::Ports8 { .. } => 2,
            InformationElement::Ports16 { .. } => 4,
            InformationElement::NationalSingleShift(_)
            | InformationElement::NationalLockingShift(_) => 1,
            InformationElement::Other { data, .. } => data.len(),
        }
    }

    /// Appends the IE (identifier, length, data) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), UdhError> {
        if let InformationElement::Other { iei, data } = self
            && data.len() > usize::from(u8::MAX)
        {
            return Err(UdhError::ElementTooLong {
                iei: *iei,
                len: data.len(),
            });
        }
        self.write_with(&mut |bytes| out.extend_from_slice(bytes));
        Ok(())
    }

    /// Hands the IE's octets to `sink` in order; an `Other` IE longer than 255 octets is
    /// cut to 255 (callers that can meet one check first, as [`InformationElement::write`]
    /// does).
    pub(crate) fn write_with(&self, sink: &mut dyn FnMut(&[u8])) {
        match *self {
            InformationElement::Concat8 {
                reference,
                total,
                seq,
            } => sink(&[IEI_CONCAT_8, 3, reference, total, seq]),
            InformationElement::Concat16 {
                reference,
                total,
                seq,
            } => {
                let [r0, r1] = reference.to_be_bytes();
                sink(&[IEI_CONCAT_16, 4, r0, r1, total, seq]);
            }
            InformationElement::Ports8 {
                destination,
                source,
            } => sink(&[IEI_PORTS_8, 2, destination, source]),
            InformationElement::Ports16 {
                destination,
                source,
            } => {
                let [d0, d1] = destination.to_be_bytes();
                let [s0, s1] = source.to_be_bytes();
                sink(&[IEI_PORTS_16, 4, d0, d1, s0, s1]);
            }
            InformationElement::NationalSingleShift(id) => {
                sink(&[IEI_NATIONAL_SINGLE_SHIFT, 1, id]);
            }
            InformationElement::NationalLockingShift(id) => {
                sink(&[IEI_NATIONAL_LOCKING_SHIFT, 1, id]);
            }
            InformationElement::Other { iei, data } => {
                let data = data.get(..usize::from(u8::MAX)).unwrap_or(data);
                // `data` holds at most 255 octets here, so the cast is exact.
                sink(&[iei, data.len() as u8]);
                sink(data);
            }
        }
    }
}

/// A malformed header, or one too long to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UdhError {
    /// The user data is empty, so it has no header length octet.
    #[error("user data is empty but the UDHI flag says it starts with a header")]
    Empty,
    /// The header length octet claims more octets than the user data holds.
    #[error("header length {udhl} exceeds the {available} octets that follow it")]
    LengthExceedsData {
        /// The header length octet.
        udhl: usize,
        /// Octets after it.
        available: usize,
    },
    /// An IE's length octet runs past the end of the header.
    #[error("information element at header offset {offset} runs past the header end")]
    TruncatedElement {
        /// Offset of the IE within the header (after the length octet).
        offset: usize,
    },
    /// An IE's data is longer than one length octet can state.
    #[error("information element {iei:#04x} has {len} octets of data, more than 255")]
    ElementTooLong {
        /// The identifier.
        iei: u8,
        /// The data length.
        len: usize,
    },
    /// The header would be longer than user data can carry.
    #[error("header of {len} octets exceeds the maximum of {MAX_UDHL}")]
    HeaderTooLong {
        /// The header length (without its length octet).
        len: usize,
    },
}

/// A well-framed header: the IEs after the header length octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udh<'a> {
    elements: &'a [u8],
}

/// A concatenation IE's values, whichever width it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Reference shared by all parts (an 8-bit one widened).
    pub reference: u16,
    /// Number of parts.
    pub total: u8,
    /// This part's sequence number.
    pub seq: u8,
    /// Width of the reference on the wire.
    pub width: RefWidth,
}

/// Application port addressing values, whichever width they had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    /// Destination port.
    pub destination: u16,
    /// Originator port.
    pub source: u16,
}

/// Splits user data whose UDHI flag is set into its header and the data after it.
///
/// For packed GSM 7-bit the text after the header starts after fill bits
/// (see [`crate::gsm7::pack::fill_bits_after_udh`] with [`Udh::len_octets`]).
pub fn split_user_data(user_data: &[u8]) -> Result<(Udh<'_>, &[u8]), UdhError> {
    let (&udhl, rest) = user_data.split_first().ok_or(UdhError::Empty)?;
    let udhl = usize::from(udhl);
    if udhl > rest.len() {
        return Err(UdhError::LengthExceedsData {
            udhl,
            available: rest.len(),
        });
    }
    let (elements, data) = rest.split_at(udhl);
    Ok((Udh::parse(elements)?, data))
}

impl<'a> Udh<'a> {
    /// Checks the framing of `elements` (the header without its length octet).
    pub fn parse(elements: &'a [u8]) -> Result<Udh<'a>, UdhError> {
        let mut offset = 0;
        while offset < elements.len() {
            let len = elements
                .get(offset + 1)
                .map(|&l| usize::from(l))
                .ok_or(UdhError::TruncatedElement { offset })?;
            if offset + 2 + len > elements.len() {
                return Err(UdhError::TruncatedElement { offset });
            }
            offset += 2 + len;
        }
        Ok(Udh { elements })
    }

    /// Octets the header takes in user data, its length octet included.
    pub fn len_octets(&self) -> usize {
        1 + self.elements.len()
    }

    /// The IEs in order.
    pub fn elements(&self) -> Elements<'a> {
        Elements {
            rest: self.elements,
        }
    }

    /// The first concatenation IE (8- or 16-bit reference), if any.
    pub fn concat(&self) -> Option<Concat> {
        self.elements().find_map(|ie| match ie {
            InformationElement::Concat8 {
                reference,
                total,
                seq,
            } => Some(Concat {
                reference: u16::from(reference),
                total,
                seq,
                width: RefWidth::Eight,
            }),
            InformationElement::Concat16 {
                reference,
                total,
                seq,
            } => Some(Concat {
                reference,
                total,
                seq,
                width: RefWidth::Sixteen,
            }),
            _ => None,
        })
    }

    /// The first application port IE (8- or 16-bit), if any.
    pub fn ports(&self) -> Option<Ports> {
        self.elements().find_map(|ie| match ie {
            InformationElement::Ports8 {
                destination,
                source,
            } => Some(Ports {
                destination: u16::from(destination),
                source: u16::from(source),
            }),
            InformationElement::Ports16 {
                destination,
                source,
            } => Some(Ports {
                destination,
                source,
            }),
            _ => None,
        })
    }

    /// The GSM tables the national language IEs select; an unknown identifier means the
    /// default table, as TS 23.038 tells a receiver to do.
    pub fn gsm7_tables(&self) -> Gsm7Tables {
        let mut locking = Language::Default;
        let mut shift = Language::Default;
        for ie in self.elements() {
            match ie {
                InformationElement::NationalLockingShift(id) => {
                    locking = Language::from_id(id).unwrap_or(Language::Default);
                }
                InformationElement::NationalSingleShift(id) => {
                    shift = Language::from_id(id).unwrap_or(Language::Default);
                }
                _ => {}
            }
        }
        Gsm7Tables::new(locking, shift)
    }
}

/// Iterator over a header's IEs.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Elements<'a> {
    type Item = InformationElement<'a>;

    fn next(&mut self) -> Option<InformationElement<'a>> {
        let (&iei, after) = self.rest.split_first()?;
        let (&len, after) = after.split_first()?;
        let data = after.get(..usize::from(len))?;
        self.rest = after.get(usize::from(len)..).unwrap_or_default();
        Some(InformationElement::from_raw(iei, data))
    }
}

/// Appends a header (length octet, then `elements` in order) to `out`; returns its length
/// in octets, the length octet included.
pub fn write_udh(
    elements: &[InformationElement<'_>],
    out: &mut Vec<u8>,
) -> Result<usize, UdhError> {
    let len: usize = elements.iter().map(InformationElement::encoded_len).sum();
    let udhl = u8::try_from(len)
        .ok()
        .filter(|&l| usize::from(l) <= MAX_UDHL)
        .ok_or(UdhError::HeaderTooLong { len })?;
    let start = out.len();
    out.push(udhl);
    for ie in elements {
        if let Err(e) = ie.write(out) {
            out.truncate(start);
            return Err(e);
        }
    }
    Ok(1 + len)
}

/// The national language IEs that `tables` needs (none for the default tables).
pub fn national_language_elements<'a>(
    tables: Gsm7Tables,
) -> impl Iterator<Item = InformationElement<'a>> {
    let locking = (tables.locking() != Language::Default)
        .then(|| InformationElement::NationalLockingShift(tables.locking().id()));
    let shift = (tables.single_shift() != Language::Default)
        .then(|| InformationElement::NationalSingleShift(tables.single_shift().id()));
    locking.into_iter().chain(shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_concatenation_ports_and_language_elements() {
        let data = [
            17, 0x00, 3, 0x42, 3, 2, 0x05, 4, 0x0B, 0x84, 0x23, 0xF0, 0x25, 1, 1, 0x24, 1, 3, b'h',
            b'i',
        ];
        let (udh, rest) = split_user_data(&data).unwrap();
        assert_eq!(rest, b"hi");
        assert_eq!(udh.len_octets(), 18);
        assert_eq!(
            udh.concat(),
            Some(Concat {
                reference: 0x42,
                total: 3,
                seq: 2,
                width: RefWidth::Eight
            })
        );
        assert_eq!(
            udh.ports(),
            Some(Ports {
                destination: 2948,
                source: 9200
            })
        );
        let tables = udh.gsm7_tables();
        assert_eq!(tables.locking(), Language::Turkish);
        assert_eq!(tables.single_shift(), Language::Portuguese);
    }

    #[test]
    fn known_element_with_wrong_length_is_kept_as_other() {
        let (udh, _) = split_user_data(&[4, 0x00, 2, 1, 2]).unwrap();
        assert_eq!(
            udh.elements().collect::<Vec<_>>(),
            [InformationElement::Other {
                iei: 0,
                data: &[1, 2]
            }]
        );
        assert_eq!(udh.concat(), None);
    }

    #[test]
    fn framing_errors_are_typed_not_panics() {
        assert_eq!(split_user_data(&[]), Err(UdhError::Empty));
        assert_eq!(
            split_user_data(&[5, 0, 3]),
            Err(UdhError::LengthExceedsData {
                udhl: 5,
                available: 2
            })
        );
        assert_eq!(
            split_user_data(&[3, 0, 3, 1]),
            Err(UdhError::TruncatedElement { offset: 0 })
        );
        assert_eq!(
            split_user_data(&[1, 0]),
            Err(UdhError::TruncatedElement { offset: 0 })
        );
    }

    #[test]
    fn built_header_parses_back_to_the_same_elements() {
        let elements = [
            InformationElement::Concat16 {
                reference: 0xBEEF,
                total: 4,
                seq: 4,
            },
            InformationElement::Ports16 {
                destination: 5000,
                source: 1,
            },
            InformationElement::NationalSingleShift(13),
            InformationElement::Other {
                iei: 0x70,
                data: b"xy",
            },
        ];
        let mut out = Vec::new();
        let len = write_udh(&elements, &mut out).unwrap();
        assert_eq!(len, out.len());
        let (udh, rest) = split_user_data(&out).unwrap();
        assert!(rest.is_empty());
        assert_eq!(udh.elements().collect::<Vec<_>>(), elements);
    }

    #[test]
    fn header_longer_than_user_data_is_refused() {
        let data = [0u8; 140];
        let ie = InformationElement::Other {
            iei: 0x70,
            data: &data[..138],
        };
        let mut out = vec![9];
        assert_eq!(
            write_udh(&[ie], &mut out),
            Err(UdhError::HeaderTooLong { len: 140 })
        );
        assert_eq!(out, [9]);
    }
}
