//! Helpers the interop test suites share (tern-smpp, tern-sms, tern-bench, tern-engine):
//! where the project's Python venv is, whether a module or an external program is
//! there, and what a test does when it is not — print `skipped: …` and pass, unless
//! `TERN_INTEROP=require` (set by `./test` in CI), where it fails.
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The environment variable that turns a missing tool into a failure.
pub const INTEROP_ENV: &str = "TERN_INTEROP";

/// The workspace root (this crate lives in `tools/testkit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python of the project's venv (made by `.ci/setup`), whether or not it exists.
pub fn venv_python() -> PathBuf {
    workspace_root().join(".venv/bin/python")
}

/// True when missing tools must fail the test (`TERN_INTEROP=require`).
pub fn required() -> bool {
    std::env::var(INTEROP_ENV).as_deref() == Ok("require")
}

/// `found`, or — when it is `None` — a skip note (`None`) or, under
/// `TERN_INTEROP=require`, a panic naming `what`.
pub fn interop_tool(what: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    if found.is_some() {
        return found;
    }
    assert!(
        !required(),
        "{what} not installed (run .ci/setup); {INTEROP_ENV}=require forbids skipping"
    );
    println!("skipped: {what} not installed (run .ci/setup)");
    None
}

/// The venv's Python if it imports every module of `modules`, else skip/require.
pub fn python_with(modules: &[&str]) -> Option<PathBuf> {
    let python = venv_python();
    let imports = format!("import {}", modules.join(", "));
    let works = Command::new(&python)
        .args(["-c", &imports])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let what = format!("python {}", modules.join(", "));
    interop_tool(&what, works.then_some(python))
}

/// The first executable called `program` on PATH.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_on_path_is_found_and_a_missing_one_is_not() {
        assert!(on_path("sh").is_some());
        assert!(on_path("surely-no-such-program-tern").is_none());
    }

    #[test]
    fn the_venv_is_looked_for_at_the_workspace_root() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(venv_python().ends_with(".venv/bin/python"));
    }
}
