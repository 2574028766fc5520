//! Which records are still live, in memory and on disk.
//!
//! In memory: one bit per LSN of each segment ([`Bitmap`]). On disk, two internal record
//! kinds tell recovery the same thing:
//! - `DONE` records list LSNs the owner marked done (tombstones), up to 512 per record;
//! - a checkpoint (one or more `CHECKPOINT` parts with consecutive LSNs starting at C) lists
//!   every live data record below C, as LSN lists or bitmaps per range, whichever is smaller.
//!
//! Recovery takes the latest complete checkpoint C: a data record below C is live iff the
//! checkpoint lists it; then every `DONE` record above C clears its targets. `DONE` records
//! below C are therefore dead, which is what lets a segment full of them be reclaimed.
//!
//! ```text
//! checkpoint part payload: checkpoint_lsn u64 | part_index u32 | part_count u32 | entries
//! entry: first_lsn u64 | lsn_count u32 | encoding u8 (1 list, 2 bitmap) | 3 zero bytes
//!        | item_count u32 | list: item_count u32 offsets from first_lsn
//!                         | bitmap: item_count bytes, bit i = first_lsn + i
//! ```

/// Bytes of a checkpoint part's own header.
pub(crate) const CHECKPOINT_PART_HEADER_BYTES: usize = 16;
/// LSNs covered by one checkpoint entry at most (a bitmap of 4 KiB).
pub(crate) const CHECKPOINT_RANGE_LSNS: usize = 32 * 1024;
const ENCODING_LIST: u8 = 1;
const ENCODING_BITMAP: u8 = 2;
/// LSNs listed in one `DONE` record at most.
pub(crate) const DONE_LSNS_PER_RECORD: usize = 512;

/// One bit per LSN of a segment, set while the record is live data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    len_bits: usize,
}

impl Bitmap {
    /// An empty bitmap that can grow to `bits` without reallocating.
    pub fn with_capacity(bits: usize) -> Self {
        Bitmap {
            words: Vec::with_capacity(bits.div_ceil(64)),
            len_bits: 0,
        }
    }

    /// Number of bits (LSNs covered).
    pub fn len(&self) -> usize {
        self.len_bits
    }

    /// Appends one bit.
    pub fn push(&mut self, bit: bool) {
        if self.len_bits.is_multiple_of(64) {
            self.words.push(0);
        }
        if bit && let Some(word) = self.words.last_mut() {
            *word |= 1 << (self.len_bits % 64);
        }
        self.len_bits += 1;
    }

    /// The bit at `index` (false beyond the end).
    pub fn get(&self, index: usize) -> bool {
        index < self.len_bits
            && self
                .words
                .get(index / 64)
                .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    /// Sets the bit at `index`; returns false when `index` is beyond the end.
    pub fn set(&mut self, index: usize) -> bool {
        match self
            .words
            .get_mut(index / 64)
            .filter(|_| index < self.len_bits)
        {
            Some(word) => {
                *word |= 1 << (index % 64);
                true
            }
            None => false,
        }
    }

    /// Clears the bit at `index`; returns whether it was set.
    pub fn clear(&mut self, index: usize) -> bool {
        let was_set = self.get(index);
        if let Some(word) = self.words.get_mut(index / 64).filter(|_| was_set) {
            *word &= !(1 << (index % 64));
        }
        was_set
    }

    /// Clears every bit below `end`.
    pub fn clear_below(&mut self, end: usize) {
        for index in 0..end.min(self.len_bits) {
            self.clear(index);
        }
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u64 {
        self.words
            .iter()
            .map(|word| u64::from(word.count_ones()))
            .sum()
    }

    /// Number of set bits in `start..end`.
    fn count_ones_in(&self, start: usize, end: usize) -> usize {
        (start..end).filter(|&index| self.get(index)).count()
    }

    /// Indexes of the set bits, in order.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words
            .iter()
            .enumerate()
            .flat_map(|(word_index, &word)| {
                let mut rest = word;
                std::iter::from_fn(move || {
                    if rest == 0 {
                        return None;
                    }
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    Some(word_index * 64 + bit)
                })
            })
    }
}

/// Why an internal record's payload does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed {0} record")]
pub(crate) struct MalformedRecord(pub &'static str);

/// Appends the LSNs of a `DONE` record payload.
pub(crate) fn encode_done(out: &mut Vec<u8>, lsns: &[u64]) {
    for lsn in lsns {
        out.extend_from_slice(&lsn.to_le_bytes());
    }
}

/// Calls `visit` with every LSN a `DONE` payload lists.
pub(crate) fn for_each_done(
    payload: &[u8],
    mut visit: impl FnMut(u64),
) -> Result<(), MalformedRecord> {
    if !payload.len().is_multiple_of(8) {
        return Err(MalformedRecord("done"));
    }
    for chunk in payload.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        visit(u64::from_le_bytes(word));
    }
    Ok(())
}

/// Encodes checkpoint entries for the set bits of `bitmap` (bit i = LSN `first_lsn + i`),
/// one entry per [`CHECKPOINT_RANGE_LSNS`] LSNs that holds a live one, each into `entry`,
/// and hands each to `each` so the caller can pack entries into parts.
pub(crate) fn encode_checkpoint_entries(
    entry: &mut Vec<u8>,
    bitmap: &Bitmap,
    first_lsn: u64,
    mut each: impl FnMut(&[u8]),
) {
    let mut start = 0;
    while start < bitmap.len() {
        let end = (start + CHECKPOINT_RANGE_LSNS).min(bitmap.len());
        let live = bitmap.count_ones_in(start, end);
        if live > 0 {
            entry.clear();
            encode_entry(entry, bitmap, first_lsn, start, end, live);
            each(entry);
        }
        start = end;
    }
}

fn encode_entry(
    out: &mut Vec<u8>,
    bitmap: &Bitmap,
    first_lsn: u64,
    start: usize,
    end: usize,
    live: usize,
) {
    let count = end - start;
    let bitmap_bytes = count.div_ceil(8);
    let use_list = live * 4 < bitmap_bytes;
    out.extend_from_slice(&(first_lsn + start as u64).to_le_bytes());
    out.extend_from_slice(&(count as u32).to_le_bytes());
    out.extend_from_slice(&[
        if use_list {
            ENCODING_LIST
        } else {
            ENCODING_BITMAP
        },
        0,
        0,
        0,
    ]);
    if use_list {
        out.extend_from_slice(&(live as u32).to_le_bytes());
        for index in (start..end).filter(|&index| bitmap.get(index)) {
            out.extend_from_slice(&((index - start) as u32).to_le_bytes());
        }
        return;
    }
    out.extend_from_slice(&(bitmap_bytes as u32).to_le_bytes());
    for byte_index in 0..bitmap_bytes {
        let byte = (0..8).fold(0u8, |byte, bit| {
            let index = start + byte_index * 8 + bit;
            byte | (u8::from(index < end && bitmap.get(index)) << bit)
        });
        out.push(byte);
    }
}

/// Writes a checkpoint part header at the start of `part`.
pub(crate) fn write_part_header(
    part: &mut [u8],
    checkpoint_lsn: u64,
    part_index: u32,
    part_count: u32,
) {
    if let Some(header) = part.get_mut(..CHECKPOINT_PART_HEADER_BYTES) {
        header[0..8].copy_from_slice(&checkpoint_lsn.to_le_bytes());
        header[8..12].copy_from_slice(&part_index.to_le_bytes());
        header[12..16].copy_from_slice(&part_count.to_le_bytes());
    }
}

/// A decoded checkpoint part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckpointPart<'a> {
    pub checkpoint_lsn: u64,
    pub part_index: u32,
    pub part_count: u32,
    pub entries: &'a [u8],
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], MalformedRecord> {
        if self.bytes.len() < count {
            return Err(MalformedRecord("checkpoint"));
        }
        let (head, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, MalformedRecord> {
        let mut word = [0u8; 4];
        word.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(word))
    }

    fn u64(&mut self) -> Result<u64, MalformedRecord> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(word))
    }
}

/// Decodes a checkpoint part's header.
pub(crate) fn decode_part(payload: &[u8]) -> Result<CheckpointPart<'_>, MalformedRecord> {
    let mut reader = Reader { bytes: payload };
    let checkpoint_lsn = reader.u64()?;
    let part_index = reader.u32()?;
    let part_count = reader.u32()?;
    if part_index >= part_count {
        return Err(MalformedRecord("checkpoint"));
    }
    Ok(CheckpointPart {
        checkpoint_lsn,
        part_index,
        part_count,
        entries: reader.bytes,
    })
}

/// Calls `visit` with every live LSN the entries of a checkpoint part list.
pub(crate) fn for_each_live(
    entries: &[u8],
    mut visit: impl FnMut(u64),
) -> Result<(), MalformedRecord> {
    let mut reader = Reader { bytes: entries };
    while !reader.bytes.is_empty() {
        let first_lsn = reader.u64()?;
        let lsn_count = reader.u32()? as usize;
        let encoding = reader.take(4)?[0];
        let items = reader.u32()? as usize;
        match encoding {
            ENCODING_LIST => {
                for _ in 0..items {
                    let offset = reader.u32()? as usize;
                    if offset >= lsn_count {
                        return Err(MalformedRecord("checkpoint"));
                    }
                    visit(first_lsn.saturating_add(offset as u64));
                }
            }
            ENCODING_BITMAP => {
                let bytes = reader.take(items)?;
                let bits = lsn_count.min(items * 8);
                (0..bits)
                    .filter(|&index| bytes[index / 8] & (1 << (index % 8)) != 0)
                    .for_each(|index| visit(first_lsn.saturating_add(index as u64)));
            }
            _ => return Err(MalformedRecord("checkpoint")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitmap_of(bits: &[bool]) -> Bitmap {
        let mut bitmap = Bitmap::with_capacity(bits.len());
        bits.iter().for_each(|&bit| bitmap.push(bit));
        bitmap
    }

    #[test]
    fn bitmap_clear_reports_whether_the_bit_was_set() {
        let mut bitmap = bitmap_of(&[true, false, true]);
        assert!(bitmap.clear(0));
        assert!(!bitmap.clear(0));
        assert!(!bitmap.clear(1));
        assert!(!bitmap.clear(99));
        assert_eq!(bitmap.ones().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn checkpoint_entries_list_exactly_the_live_lsns() {
        for density in [1usize, 3, 97] {
            let bits: Vec<bool> = (0..70_000).map(|index| index % density == 0).collect();
            let bitmap = bitmap_of(&bits);
            let (mut out, mut entry) = (Vec::new(), Vec::new());
            encode_checkpoint_entries(&mut entry, &bitmap, 1000, |encoded| {
                out.extend_from_slice(encoded)
            });
            let mut live = Vec::new();
            for_each_live(&out, |lsn| live.push(lsn)).expect("entries decode");
            let expected: Vec<u64> = bitmap.ones().map(|index| 1000 + index as u64).collect();
            assert_eq!(live, expected);
        }
    }

    #[test]
    fn done_payload_round_trips() {
        let mut out = Vec::new();
        encode_done(&mut out, &[5, 9, u64::MAX]);
        let mut seen = Vec::new();
        for_each_done(&out, |lsn| seen.push(lsn)).expect("decodes");
        assert_eq!(seen, vec![5, 9, u64::MAX]);
        assert!(for_each_done(&out[..7], |_| {}).is_err());
    }
}
