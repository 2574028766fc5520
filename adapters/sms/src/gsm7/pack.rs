//! Packing septets into octets (TS 23.038 6.1.2.1.1) and back.
//!
//! Septets are laid out least significant bit first. When a User Data Header precedes the
//! text, `fill_bits` zero bits come first so that the text starts on a septet boundary
//! (TS 23.040 9.2.3.24); [`fill_bits_after_udh`] gives their number. Spare bits at the end
//! are zero: the septet count (TP-UDL) tells the receiver where the text stops.

/// Most fill bits ever needed: a header ends at most 6 bits short of a septet boundary.
pub const MAX_FILL_BITS: u8 = 6;

/// Fill bits needed after a UDH of `udh_octets` octets (including its length octet).
pub fn fill_bits_after_udh(udh_octets: usize) -> u8 {
    // 8·h mod 7 computed without overflow; the result is below 7, so the cast is exact.
    let spill = udh_octets % 7 * 8 % 7;
    ((7 - spill) % 7) as u8
}

/// Septets a UDH of `udh_octets` octets occupies together with its fill bits.
pub fn udh_septets(udh_octets: usize) -> usize {
    (udh_octets * 8).div_ceil(7)
}

/// Octets that `septet_count` septets occupy after `fill_bits` fill bits.
pub fn packed_len(septet_count: usize, fill_bits: u8) -> usize {
    (septet_count * 7 + usize::from(fill_bits.min(MAX_FILL_BITS))).div_ceil(8)
}

/// Most septets that `octets` octets can hold after `fill_bits` fill bits.
pub fn max_septets(octets: usize, fill_bits: u8) -> usize {
    (octets * 8).saturating_sub(usize::from(fill_bits.min(MAX_FILL_BITS))) / 7
}

/// Appends `septets` packed after `fill_bits` zero bits (clamped to 6) to `out`.
///
/// Only the low 7 bits of each septet are used.
pub fn pack_into(septets: &[u8], fill_bits: u8, out: &mut Vec<u8>) {
    let fill_bits = fill_bits.min(MAX_FILL_BITS);
    out.reserve(packed_len(septets.len(), fill_bits));
    // Fewer than 8 bits wait in `acc` between chunks, so 8 septets (56 bits) always fit
    // beside them, and 7 whole octets go out per chunk.
    let mut acc: u64 = 0;
    let mut acc_bits = u32::from(fill_bits);
    let mut chunks = septets.chunks_exact(8);
    for chunk in chunks.by_ref() {
        let bits = chunk
            .iter()
            .rev()
            .fold(0u64, |v, &s| v << 7 | u64::from(s & 0x7F));
        acc |= bits << acc_bits;
        out.extend_from_slice(acc.to_le_bytes().get(..7).unwrap_or_default());
        acc >>= 56;
    }
    for &septet in chunks.remainder() {
        acc |= u64::from(septet & 0x7F) << acc_bits;
        acc_bits += 7;
        while acc_bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            acc_bits -= 8;
        }
    }
    if acc_bits > 0 {
        out.push(acc as u8);
    }
}

/// Packs `septets` after `fill_bits` fill bits into a new buffer; see [`pack_into`].
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let mut out = Vec::new();
    pack_into(septets, fill_bits, &mut out);
    out
}

/// Appends up to `septet_count` septets read from `octets` after `fill_bits` fill bits.
///
/// Reads only whole septets that are present: a count larger than the data holds yields
/// fewer septets (never a panic). Returns the number of septets appended.
pub fn unpack_into(octets: &[u8], fill_bits: u8, septet_count: usize, out: &mut Vec<u8>) -> usize {
    let fill_bits = fill_bits.min(MAX_FILL_BITS);
    let count = septet_count.min(max_septets(octets.len(), fill_bits));
    out.reserve(count);
    let mut acc: u32 = 0;
    let mut acc_bits: u32 = 0;
    let mut produced = 0;
    let mut skip = u32::from(fill_bits);
    for &octet in octets {
        if produced == count {
            break;
        }
        acc |= u32::from(octet) << acc_bits;
        acc_bits += 8;
        if skip > 0 {
            acc >>= skip;
            acc_bits -= skip;
            skip = 0;
        }
        while acc_bits >= 7 && produced < count {
            out.push((acc & 0x7F) as u8);
            acc >>= 7;
            acc_bits -= 7;
            produced += 1;
        }
    }
    produced
}

/// Unpacks up to `septet_count` septets into a new buffer; see [`unpack_into`].
pub fn unpack(octets: &[u8], fill_bits: u8, septet_count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    unpack_into(octets, fill_bits, septet_count, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_hello_as_in_the_specification_example() {
        // "hellohello" is the classic 23.038 example: E8 32 9B FD 46 97 D9 EC 37.
        let septets: Vec<u8> = b"hellohello".to_vec();
        assert_eq!(
            pack(&septets, 0),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
    }

    #[test]
    fn fill_bits_align_text_after_concatenation_headers() {
        assert_eq!(fill_bits_after_udh(6), 1);
        assert_eq!(fill_bits_after_udh(7), 0);
        assert_eq!(fill_bits_after_udh(9), 5);
        assert_eq!(fill_bits_after_udh(4), 3);
        assert_eq!(udh_septets(6), 7);
        assert_eq!(udh_septets(7), 8);
    }

    #[test]
    fn unpack_reads_back_what_pack_wrote_for_every_fill() {
        let septets: Vec<u8> = (0u8..128).collect();
        for fill in 0..=MAX_FILL_BITS {
            let packed = pack(&septets, fill);
            assert_eq!(packed.len(), packed_len(septets.len(), fill));
            assert_eq!(unpack(&packed, fill, septets.len()), septets);
        }
    }

    #[test]
    fn unpack_stops_at_the_end_of_the_data() {
        assert_eq!(unpack(&[0xE8, 0x32], 0, 100), b"he".to_vec());
        assert!(unpack(&[], 3, 10).is_empty());
    }
}
