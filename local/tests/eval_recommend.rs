//! `local eval recommend` on a train/test pair small enough to score by hand.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn local() -> Command {
    Command::new(env!("CARGO_BIN_EXE_local"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    path.display().to_string()
}

// Popularity in TRAIN: a 3, b 2, c 1, d 1 (columns a b c d). With k = 2 and each user's TRAIN
// items left out: u1 gets c, d (test c: hit at 1); u2 gets b, d (test b: hit at 1); u3 gets b, c
// (test e, an item TRAIN never saw: a miss); u4 gets a, c (test a: hit at 1).
const TRAIN: &str = "user_id,item_id,weight,timestamp\n\
u1,a,1,10\n\
u1,b,1,11\n\
u2,a,1,12\n\
u2,c\n\
u3,a,1\n\
u3,d,1,13\n\
u4,b,1,14\n";
const TEST: &str = "u1,c\nu2,b,2,20\nu3,e\nu4,a\n";

fn eval(dir: &Path, model: &str, extra: &[&str]) -> Output {
    let train = write(dir, "train.csv", TRAIN);
    let test = write(dir, "test.csv", TEST);
    local()
        .args(["eval", "recommend", "--train", &train, "--test", &test])
        .args(["--model", model, "--k", "2"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("run local: {e}"))
}

fn report(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn assert_hand_metrics(m: &Value) {
    let f = |k: &str| {
        m[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {m}"))
    };
    assert_eq!(m["users_evaluated"], 4);
    assert!((f("precision") - 0.375).abs() < 1e-9, "{m}");
    assert!((f("recall") - 0.75).abs() < 1e-9);
    assert!((f("ndcg") - 0.75).abs() < 1e-9);
    assert!((f("hit_rate") - 0.75).abs() < 1e-9);
    assert!((f("coverage") - 1.0).abs() < 1e-9);
    assert!(f("fit_seconds") >= 0.0);
}

#[test]
fn popularity_metrics_and_lists_by_hand() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let lists = dir.path().join("lists.csv");
    let out = eval(
        dir.path(),
        "popularity",
        &["--output", &lists.display().to_string()],
    );
    let r = report(&out);
    assert_eq!(r["model"], "popularity");
    assert_eq!(r["k"], 2);
    assert_eq!(r["train"]["interactions"], 7);
    assert_eq!(r["test"]["users"], 4);
    assert_hand_metrics(&r);
    assert_hand_metrics(&r["baseline"]);
    assert_eq!(r["baseline"]["model"], "popularity");
    let text = std::fs::read_to_string(&lists).unwrap_or_else(|e| panic!("lists: {e}"));
    assert_eq!(
        text,
        "user_id,rank,item_id\nu1,1,c\nu1,2,d\nu2,1,b\nu2,2,d\nu3,1,b\nu3,2,c\nu4,1,a\nu4,2,c\n"
    );
}

#[test]
fn hybrid_blends_the_sources_this_build_has() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let r = report(&eval(dir.path(), "hybrid", &["--seed", "7"]));
    assert_eq!(r["model"], "hybrid");
    // Every user has at least one relevant item, whatever the sources rank.
    assert_eq!(r["users_evaluated"], 4);
    for k in ["precision", "recall", "ndcg", "hit_rate", "coverage"] {
        let v = r[k].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    assert_hand_metrics(&r["baseline"]);
}

#[test]
fn a_bad_row_names_its_line_and_fails() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let train = write(dir.path(), "bad.csv", "user_id,item_id\nu1,a\nu2,b,heavy\n");
    let test = write(dir.path(), "test.csv", TEST);
    let out = local()
        .args(["eval", "recommend", "--train", &train, "--test", &test])
        .output()
        .unwrap_or_else(|e| panic!("run local: {e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv line 3") && err.contains("weight `heavy`"),
        "{err}"
    );

    let too_many = write(dir.path(), "wide.csv", "u1,a,1,2,3\n");
    let out = local()
        .args(["eval", "recommend", "--train", &too_many, "--test", &test])
        .output()
        .unwrap_or_else(|e| panic!("run local: {e}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wide.csv line 1"));
}

#[test]
fn an_unknown_model_lists_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = eval(dir.path(), "svd", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown model `svd`") && err.contains("item_knn"),
        "{err}"
    );
}
