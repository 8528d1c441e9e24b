//! The `local` binary's command line. Also makes `cargo test --workspace` build the binary
//! (`target/debug/local`), which the OpenAPI step of `tests/run.sh` then starts without a second
//! build with other features.

use std::process::Command;

fn local() -> Command {
    Command::new(env!("CARGO_BIN_EXE_local"))
}

#[test]
fn help_lists_the_subcommands() {
    let out = local()
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("run local: {e}"));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["serve", "job", "bootstrap-admin"] {
        assert!(text.contains(sub), "{sub} missing from:\n{text}");
    }
}

#[test]
fn an_unknown_job_is_refused() {
    let out = local()
        .args(["job", "no-such-job"])
        .env("STORE", "memory")
        .env("BLOBS", "memory")
        .output()
        .unwrap_or_else(|e| panic!("run local: {e}"));
    assert!(!out.status.success());
}
