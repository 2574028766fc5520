//! `tern hash-password` prints a hash that the configuration accepts for that password.

use std::io::Write;
use std::process::{Command, Stdio};

use tern_engine::config::Config;
use tern_engine::users::Users;

fn hash_with_binary(stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tern");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write password");
    child.wait_with_output().expect("tern exits")
}

#[test]
fn printed_hash_verifies_the_password_given_on_stdin_and_no_other() {
    let out = hash_with_binary(b"s3cret:with colon\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let phc = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(phc.starts_with("$argon2id$"), "{phc}");

    let toml = format!(
        "[[users]]\nname = \"alice\"\npassword_hash = \"{phc}\"\n\n[[connectors]]\nname = \"up\"\nhost = \"127.0.0.1\"\nport = 2775\nsystem_id = \"t\"\npassword = \"t\"\n\n[[routes.mt]]\ndestination_prefixes = [\"\"]\nconnectors = [\"up\"]\n"
    );
    let loaded = Config::from_toml(&toml, "test.toml").expect("config with the printed hash");
    let users = Users::build(&loaded.config).expect("users");
    let alice = users
        .get(users.lookup("alice").expect("alice"))
        .expect("user");
    assert!(alice.verify_password(b"s3cret:with colon"));
    assert!(!alice.verify_password(b"s3cret"));
}

#[test]
fn empty_stdin_is_refused_with_a_message() {
    let out = hash_with_binary(b"");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no password"));
}
