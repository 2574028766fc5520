//! What goes wrong while loading a configuration, and where.

use std::fmt;

/// A place in a configuration file, 1-based, as editors number lines and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line number, from 1.
    pub line: usize,
    /// Column number in characters, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// One finding about a configuration: an error that refuses it or a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The field it is about, as `routes.mt[2].connectors[0]`; empty for syntax errors.
    pub path: String,
    /// Where the field is written, when the configuration came from a file.
    pub location: Option<Location>,
    /// What is wrong, in words for an operator.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = self.location {
            write!(f, "{location}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read the configuration: {source}")]
    Read {
        /// The file's name as given.
        origin: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The text does not parse or the values do not hold together.
    #[error("{}", Listing { origin, diagnostics })]
    Invalid {
        /// The file's name, or `command line`.
        origin: String,
        /// Every problem found, in file order where known; never empty.
        diagnostics: Vec<Diagnostic>,
    },
}

impl ConfigError {
    /// The problems found, empty for a read error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { diagnostics, .. } => diagnostics,
        }
    }
}

/// Prints one problem per line, each prefixed by its origin as compilers do.
struct Listing<'a> {
    origin: &'a str,
    diagnostics: &'a [Diagnostic],
}

impl fmt::Display for Listing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}: {diagnostic}", self.origin)?;
        }
        Ok(())
    }
}
