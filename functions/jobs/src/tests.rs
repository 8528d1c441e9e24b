use serde_json::json;
use shared::AppState;

use crate::{JobError, JobEvent, run};

fn event(file: &str) -> JobEvent {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/jobs")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[tokio::test]
async fn every_job_event_file_runs() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    shared::domain::teachers::put_teachers(
        state.store.as_ref(),
        &shared::domain::teachers::synthetic_population(200, 1, 5),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for job in crate::JOBS {
        let ev = event(&format!("{job}.json"));
        assert_eq!(ev.job, job);
        let report = run(&state, &ev)
            .await
            .unwrap_or_else(|e| panic!("{job}: {e}"));
        assert_eq!(report["job"], job);
        match job {
            "fbt-rules" => assert_eq!(report["report"]["orders"], json!(0)),
            _ => assert_eq!(report["report"]["total_users_processed"], json!(200)),
        }
    }
}

#[tokio::test]
async fn user_clusters_needs_at_least_four_distinct_users() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        run(&state, &JobEvent::named("user-clusters")).await,
        Err(JobError::Recompute(
            shared::domain::teachers::RecomputeError::TooFewUsers { users: 0, .. }
        ))
    ));
}

#[tokio::test]
async fn unknown_jobs_and_bad_parameters_are_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("{e}"));
    let unknown = JobEvent::named("nope");
    assert!(matches!(
        run(&state, &unknown).await,
        Err(JobError::UnknownJob(_))
    ));
    let zero = JobEvent {
        min_support_count: Some(0),
        ..JobEvent::named("fbt-rules")
    };
    assert!(matches!(
        run(&state, &zero).await,
        Err(JobError::InvalidParameter)
    ));
}
