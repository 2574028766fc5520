//! A digit trie from destination prefixes to route positions, built once per snapshot.

use crate::config::bounds::PREFIX_DIGITS_MAX;

/// "No child": the root is never anybody's child, so index 0 can mean none.
const NONE: u32 = 0;

/// One node: its ten children and the slice of `values` whose prefix ends here.
#[derive(Debug, Clone, Copy, Default)]
struct Node {
    children: [u32; 10],
    values_start: u32,
    values_len: u32,
}

/// Maps digit prefixes to values (route positions); lookups allocate nothing.
#[derive(Debug, Clone)]
pub(crate) struct DigitTrie {
    nodes: Vec<Node>,
    /// Values grouped by node, each group in insertion (configuration) order.
    values: Vec<u32>,
}

/// Collects prefixes before flattening them into a [`DigitTrie`].
#[derive(Debug, Default)]
pub(crate) struct TrieBuilder {
    nodes: Vec<([u32; 10], Vec<u32>)>,
}

/// A prefix that the trie cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrefixError {
    /// A character other than an ASCII digit.
    NotDigits,
    /// More than [`PREFIX_DIGITS_MAX`] digits.
    TooLong,
    /// More nodes or values than a `u32` can index.
    TooLarge,
}

impl TrieBuilder {
    /// Adds `value` under the digit string `prefix` (already normalised).
    pub(crate) fn insert(&mut self, prefix: &str, value: u32) -> Result<(), PrefixError> {
        if prefix.len() > PREFIX_DIGITS_MAX {
            return Err(PrefixError::TooLong);
        }
        if self.nodes.is_empty() {
            self.nodes.push(([NONE; 10], Vec::new()));
        }
        let mut node = 0usize;
        for byte in prefix.bytes() {
            let digit = digit(byte).ok_or(PrefixError::NotDigits)?;
            node = self.child_or_insert(node, digit)?;
        }
        let values = &mut self.nodes.get_mut(node).ok_or(PrefixError::TooLarge)?.1;
        if !values.contains(&value) {
            values.push(value);
        }
        Ok(())
    }

    fn child_or_insert(&mut self, node: usize, digit: usize) -> Result<usize, PrefixError> {
        let next = u32::try_from(self.nodes.len()).map_err(|_| PrefixError::TooLarge)?;
        let slot = self
            .nodes
            .get_mut(node)
            .and_then(|(children, _)| children.get_mut(digit))
            .ok_or(PrefixError::TooLarge)?;
        if *slot != NONE {
            return Ok(*slot as usize);
        }
        *slot = next;
        self.nodes.push(([NONE; 10], Vec::new()));
        Ok(next as usize)
    }

    /// The flat, read-only trie.
    pub(crate) fn build(self) -> Result<DigitTrie, PrefixError> {
        let mut trie = DigitTrie {
            nodes: Vec::with_capacity(self.nodes.len().max(1)),
            values: Vec::new(),
        };
        for (children, values) in self.nodes {
            let values_start =
                u32::try_from(trie.values.len()).map_err(|_| PrefixError::TooLarge)?;
            let values_len = u32::try_from(values.len()).map_err(|_| PrefixError::TooLarge)?;
            trie.values.extend(values);
            trie.nodes.push(Node {
                children,
                values_start,
                values_len,
            });
        }
        if trie.nodes.is_empty() {
            trie.nodes.push(Node::default());
        }
        Ok(trie)
    }
}

impl DigitTrie {
    /// The first value accepted by `accept`, visiting the prefixes of `key` from the
    /// longest to the shortest and, for one prefix, values in insertion order. The walk
    /// stops at the first non-digit of `key`.
    pub(crate) fn longest_match(
        &self,
        key: &str,
        mut accept: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        // The path from the root, on the stack: no allocation per lookup.
        let mut path = [0u32; PREFIX_DIGITS_MAX + 1];
        let mut depth = 0usize;
        let mut node = 0u32;
        for byte in key.bytes().take(PREFIX_DIGITS_MAX) {
            let child = digit(byte)
                .and_then(|d| self.node(node)?.children.get(d).copied())
                .unwrap_or(NONE);
            if child == NONE {
                break;
            }
            depth += 1;
            node = child;
            if let Some(slot) = path.get_mut(depth) {
                *slot = child;
            }
        }
        let visited = path.get(..=depth).unwrap_or_default();
        visited
            .iter()
            .rev()
            .find_map(|&n| self.values_of(n).iter().copied().find(|&v| accept(v)))
    }

    fn node(&self, index: u32) -> Option<&Node> {
        self.nodes.get(index as usize)
    }

    fn values_of(&self, index: u32) -> &[u32] {
        self.node(index)
            .and_then(|n| {
                let start = n.values_start as usize;
                self.values.get(start..start + n.values_len as usize)
            })
            .unwrap_or_default()
    }

    /// Bytes held, for the module docs' memory figure.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.values.capacity() * 4
    }
}

fn digit(byte: u8) -> Option<usize> {
    byte.is_ascii_digit().then(|| usize::from(byte - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(entries: &[(&str, u32)]) -> DigitTrie {
        let mut builder = TrieBuilder::default();
        for &(prefix, value) in entries {
            builder.insert(prefix, value).expect("valid prefix");
        }
        builder.build().expect("small trie")
    }

    #[test]
    fn longest_prefix_is_visited_first() {
        let t = trie(&[("", 0), ("4", 1), ("447", 2), ("44", 3)]);
        assert_eq!(t.longest_match("4479", |_| true), Some(2));
        assert_eq!(t.longest_match("4459", |_| true), Some(3));
        assert_eq!(t.longest_match("33", |_| true), Some(0));
    }

    #[test]
    fn rejected_values_fall_back_to_shorter_prefixes() {
        let t = trie(&[("", 0), ("44", 1), ("44", 2)]);
        assert_eq!(t.longest_match("441", |v| v != 1), Some(2));
        assert_eq!(t.longest_match("441", |v| v == 0), Some(0));
        assert_eq!(t.longest_match("441", |_| false), None);
    }

    #[test]
    fn walk_stops_at_a_non_digit_and_never_overruns_a_long_key() {
        let t = trie(&[("12", 0), ("1", 1)]);
        assert_eq!(t.longest_match("1x2", |_| true), Some(1));
        let long = "1".repeat(100);
        assert_eq!(t.longest_match(&long, |_| true), Some(1));
    }

    #[test]
    fn prefixes_that_are_not_digits_or_too_long_are_refused() {
        let mut builder = TrieBuilder::default();
        assert_eq!(builder.insert("4a", 0), Err(PrefixError::NotDigits));
        let long = "1".repeat(PREFIX_DIGITS_MAX + 1);
        assert_eq!(builder.insert(&long, 0), Err(PrefixError::TooLong));
    }

    #[test]
    fn empty_trie_matches_nothing() {
        let t = TrieBuilder::default().build().expect("empty");
        assert_eq!(t.longest_match("123", |_| true), None);
    }
}
