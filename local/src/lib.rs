//! The local server: every function router on one axum server, plus the API documentation, the
//! signed-URL blob route of the local blob store, and demo data.
//!
//! The same code serves the cloud backends when the environment selects them (`STORE=dynamodb`,
//! `BLOBS=s3`, `AI=bedrock`), e.g. against an AWS emulator.

pub mod demo;
pub mod demo_catalog;
pub mod demo_classroom;
pub mod demo_mp4;
pub mod demo_orders;
pub mod demo_videos;

use std::{net::SocketAddr, sync::Arc};

use axum::{Json, Router, response::Html, routing::get};
use shared::{
    AppState,
    blobs::{
        BlobMeta,
        fs::{self, FsBlobs},
    },
    config::{BlobBackend, Config},
    domain::videos::verify,
};
use tokio::net::TcpListener;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Every function's routes, merged.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth_fn::routes())
        .merge(users_fn::routes())
        .merge(admin_fn::routes())
        .merge(textbook_fn::routes())
        .merge(catalog_fn::routes())
        .merge(cart_fn::routes())
        .merge(orders_fn::routes())
        .merge(search_fn::routes())
        .merge(classroom_fn::routes())
        .merge(videos_fn::routes())
}

/// The merged OpenAPI document of every function.
pub fn openapi() -> OpenApi {
    shared::openapi::finish(routes().split_for_parts().1)
}

/// The whole application router: functions, docs, health, local blob URLs.
pub fn app(state: AppState) -> anyhow::Result<Router> {
    let (functions, api) = routes().with_state(state.clone()).split_for_parts();
    let api = shared::openapi::finish(api);
    let mut router = functions
        .route("/openapi.json", get(move || async move { Json(api) }))
        .route(
            "/docs",
            get(|| async { Html(shared::openapi::swagger_html("/openapi.json")) }),
        )
        .route(
            "/redoc",
            get(|| async { Html(shared::openapi::redoc_html("/openapi.json")) }),
        )
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        );
    if state.config.blobs == BlobBackend::Local {
        let blobs = local_blobs(&state.config)?.on_upload(verify_videos_on_upload(state.clone()));
        router = router.nest("/blobs", fs::router(blobs));
    }
    Ok(router)
}

/// The local blob store the state uses, for its signed-URL route.
fn local_blobs(config: &Config) -> anyhow::Result<FsBlobs> {
    Ok(FsBlobs::new(
        config.data_dir.join("blobs"),
        format!("{}/blobs", config.public_base_url),
        config.blob_signing_secret.expose().as_bytes(),
    )?)
}

/// The local counterpart of the S3 object-created event that verifies uploaded videos in the
/// cloud (`functions/jobs`): the same check, run when a signed upload completes.
fn verify_videos_on_upload(state: AppState) -> fs::UploadHook {
    Arc::new(move |meta: BlobMeta| {
        let state = state.clone();
        Box::pin(async move {
            match verify::verify_upload(state.store.as_ref(), state.blobs.as_ref(), &meta.key).await
            {
                Ok(verify::Outcome::Ignored) => {}
                Ok(outcome) => tracing::info!(?outcome, key = %meta.key, "upload verified"),
                Err(e) => tracing::warn!(error = %e, key = %meta.key, "upload verification failed"),
            }
        })
    })
}

/// A running server (tests use it to know the address).
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    pub handle: tokio::task::JoinHandle<()>,
}

/// Binds `addr` (port 0 picks a free port), points signed URLs at it unless `PUBLIC_BASE_URL`
/// was given, builds the state and serves in a background task.
pub async fn start(
    addr: SocketAddr,
    mut config: Config,
    public_url_from_env: bool,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    if !public_url_from_env {
        config.public_base_url = format!("http://{addr}");
    }
    let state = AppState::from_config(config).await?;
    start_with_state(listener, state).await
}

/// Serves `state` on an already bound listener.
pub async fn start_with_state(listener: TcpListener, state: AppState) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let service = shared::http::service(app(state.clone())?, &state.config);
    // Only here, not under Lambda: a connection to announce the close of.
    let service = tower::Layer::layer(
        &axum::middleware::from_fn(shared::http::layers::close_on_unread_body),
        service,
    );
    spawn_expiry_sweeper(state.clone());
    let handle = tokio::spawn(async move {
        let make = axum::ServiceExt::<axum::extract::Request>::into_make_service(service);
        if let Err(e) = axum::serve(listener, make).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Running {
        addr,
        state,
        handle,
    })
}

/// How often the local server deletes expired items (sessions, caches) from the embedded store.
const EXPIRY_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// The local counterpart of DynamoDB's TTL sweeper: expired items are already invisible to
/// readers, this only reclaims their space in the store file (at startup, then every 10 minutes).
fn spawn_expiry_sweeper(state: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EXPIRY_SWEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match state.store.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "expired items removed"),
                Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
            }
        }
    });
}

/// `GET /` style summary printed at startup.
pub fn banner(addr: SocketAddr, demo: bool) -> String {
    let mut s = format!(
        "Serving on http://{addr}\n  API docs: http://{addr}/docs (Swagger UI), http://{addr}/redoc, http://{addr}/openapi.json\n"
    );
    if demo {
        s.push_str(&format!(
            "  Demo admin: {} / {}\n  Log in: curl -X POST http://{addr}/api/v1/auth/login -d 'username={}&password={}'\n",
            demo::ADMIN_EMAIL,
            demo::ADMIN_PASSWORD,
            demo::ADMIN_EMAIL,
            demo::ADMIN_PASSWORD
        ));
        s.push_str(&format!(
            "  Education ML API (spec 003): curl http://{addr}/clusters ; curl http://{addr}/user/1/profile
"
        ));
        s.push_str(&format!(
            "  Shoppable videos (spec 004): curl http://{addr}/api/v1/shoppable-videos/?seed=1
"
        ));
    }
    s
}
