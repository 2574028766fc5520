//! From a field's path in the typed configuration back to its line in the file.
//!
//! Validation works on the plain typed [`Config`](super::Config), so the same checks run on
//! a file, on the demo and on command-line overrides. Each problem names the field by path;
//! for a file, the path is looked up in toml's spanned document tree to find the line. A
//! field left at its default is not in the file: the nearest enclosing table that is (a
//! `[[routes.mt]]` header, say) gives the line instead.

use std::fmt;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::Location;

/// One step of a path: a table key or an array index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A key in a table.
    Key(&'static str),
    /// A position in an array, from 0.
    Index(usize),
}

/// A field's path from the document root, as `routes.mt[2].connectors[0]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(Vec<Step>);

impl FieldPath {
    /// The document root.
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// This path extended by a table key.
    pub(crate) fn key(&self, key: &'static str) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key));
        Self(steps)
    }

    /// This path extended by an array index.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Index(index));
        Self(steps)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if i == 0 => f.write_str(key)?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A parsed document kept to locate fields by path.
pub(crate) struct SourceMap<'a> {
    text: &'a str,
    root: Spanned<DeTable<'a>>,
}

impl<'a> SourceMap<'a> {
    /// Parses `text`; `None` when it is not TOML (the typed parse reports that error).
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        let root = DeTable::parse(text).ok()?;
        Some(Self { text, root })
    }

    /// The location of the field at `path`, or of its nearest ancestor written in the file.
    pub(crate) fn locate(&self, path: &FieldPath) -> Option<Location> {
        self.walk(path, false)
    }

    /// The location of the field at `path` only if the file writes that very field.
    pub(crate) fn locate_written(&self, path: &FieldPath) -> Option<Location> {
        self.walk(path, true)
    }

    fn walk(&self, path: &FieldPath, exact: bool) -> Option<Location> {
        let mut steps = path.0.iter();
        let Some(Step::Key(first)) = steps.next() else {
            return None;
        };
        let mut current = self.root.get_ref().get(*first)?;
        for step in steps {
            match descend(current.get_ref(), *step) {
                Some(next) => current = next,
                None if exact => return None,
                None => break,
            }
        }
        Some(location_at(self.text, current.span().start))
    }
}

/// The child of `value` reached by `step`, if the document has it.
fn descend<'v, 'a>(value: &'v DeValue<'a>, step: Step) -> Option<&'v Spanned<DeValue<'a>>> {
    match step {
        Step::Key(key) => value.as_table()?.get(key),
        Step::Index(index) => value.as_array()?.get(index),
    }
}

/// The line and column of byte `offset` in `text`; an offset past the end or inside a
/// character is clamped so that a bad span can never panic.
pub(crate) fn location_at(text: &str, offset: usize) -> Location {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(..end).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count());
    Location {
        line: before.matches('\n').count() + 1,
        column: column + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters_from_one() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(location_at(text, 0), Location { line: 1, column: 1 });
        let offset = text.find("= 2").unwrap_or_default();
        assert_eq!(location_at(text, offset), Location { line: 2, column: 4 });
    }

    #[test]
    fn location_past_the_end_is_clamped() {
        let location = location_at("a\nb", 99);
        assert_eq!(location, Location { line: 2, column: 2 });
    }

    #[test]
    fn missing_field_locates_its_enclosing_table() {
        let text = "[[users]]\nname = 'a'\n\n[[users]]\nname = 'b'\n";
        let map = SourceMap::parse(text).expect("valid toml");
        let path = FieldPath::root().key("users").index(1).key("tps_max");
        assert_eq!(map.locate(&path).map(|l| l.line), Some(4));
        let name = FieldPath::root().key("users").index(1).key("name");
        assert_eq!(map.locate(&name).map(|l| l.line), Some(5));
    }

    #[test]
    fn path_displays_as_written_in_toml() {
        let path = FieldPath::root()
            .key("routes")
            .key("mt")
            .index(2)
            .key("users");
        assert_eq!(path.to_string(), "routes.mt[2].users");
    }
}
