//! The local server: every function router on one axum server, plus the API documentation, the
//! signed-URL blob route of the local blob store, and demo data.
//!
//! The same code serves the cloud backends when the environment selects them (`STORE=dynamodb`,
//! `BLOBS=s3`, `AI=bedrock`), e.g. against an AWS emulator.

pub mod demo;
pub mod demo_catalog;
pub mod demo_classroom;
pub mod demo_interactions;
pub mod demo_mp4;
pub mod demo_orders;
pub mod demo_promotions;
pub mod demo_rec_traffic;
pub mod demo_searches;
pub mod demo_segments;
pub mod demo_videos;
pub mod eval_recommend;
pub mod eval_segments;
pub mod import;

use std::{net::SocketAddr, sync::Arc};

use axum::{Json, Router, response::Html, routing::get};
use shared::{
    AppState,
    blobs::{BlobMeta, local::UploadHook},
    config::{BlobBackend, Config, StoreBackend},
    domain::videos::verify,
};
use tokio::net::{TcpListener, TcpSocket};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Every function's routes, each with its own state built from `state`, merged. Each function
/// keeps its own caches as it would in its own Lambda (the catalog, search and videos functions
/// each hold a catalog snapshot).
pub fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::with_openapi(base_document())
        .merge(auth_fn::routes(state.clone()))
        .merge(users_fn::routes(state.clone()))
        .merge(admin_fn::routes(state.clone()))
        .merge(textbook_fn::routes(state.clone()))
        .merge(catalog_fn::routes(state.clone()))
        .merge(cart_fn::routes(state.clone()))
        .merge(orders_fn::routes(state.clone()))
        .merge(search_fn::routes(state.clone()))
        .merge(classroom_fn::routes(state.clone()))
        .merge(videos_fn::routes(state.clone()))
        .merge(ml_models_fn::routes(state.clone()))
        .merge(recommendations_fn::routes(state.clone()))
        .merge(segments_fn::routes(state.clone()))
        .merge(personalization_fn::routes(state.clone()))
        .merge(analytics_fn::routes(state.clone()))
        .merge(promotions_fn::routes(state))
}

/// The document the functions' operations are merged into: this crate's package information
/// (`OpenApiRouter::new()` would take utoipa-axum's, contact and license included).
fn base_document() -> OpenApi {
    #[derive(utoipa::OpenApi)]
    struct Base;
    <Base as utoipa::OpenApi>::openapi()
}

/// Each function's OpenAPI operations and schemas.
fn parts() -> [OpenApi; 16] {
    [
        auth_fn::openapi(),
        users_fn::openapi(),
        admin_fn::openapi(),
        textbook_fn::openapi(),
        catalog_fn::openapi(),
        cart_fn::openapi(),
        orders_fn::openapi(),
        search_fn::openapi(),
        classroom_fn::openapi(),
        videos_fn::openapi(),
        ml_models_fn::openapi(),
        recommendations_fn::openapi(),
        segments_fn::openapi(),
        personalization_fn::openapi(),
        analytics_fn::openapi(),
        promotions_fn::openapi(),
    ]
}

/// The merged OpenAPI document of every function (no state needed).
pub fn openapi() -> OpenApi {
    let mut doc = base_document();
    for part in parts() {
        doc.merge(part);
    }
    shared::openapi::finish(doc)
}

/// The whole application router: functions, docs, health, local blob URLs.
pub fn app(state: AppState) -> anyhow::Result<Router> {
    let functions: Router = routes(state.clone()).into();
    let api = openapi();
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
    // The state's own local blob store (files or memory): its signed URLs are served here.
    if let Some(blobs) = state.blobs.local() {
        let blobs = blobs.on_upload(verify_videos_on_upload(state.clone()));
        router = router.nest("/blobs", shared::http::blob_urls::router(blobs));
    }
    Ok(router)
}

/// `serve --memory`: the store and the local blobs in memory, so that nothing touches the disk.
pub fn memory_only(config: &mut Config) {
    config.store = StoreBackend::Memory;
    if config.blobs == BlobBackend::Local {
        config.blobs = BlobBackend::Memory;
    }
}

/// The local counterpart of the S3 object-created event that verifies uploaded videos in the
/// cloud (`functions/jobs`): the same check, run when a signed upload completes.
fn verify_videos_on_upload(state: AppState) -> UploadHook {
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
    config: Config,
    public_url_from_env: bool,
) -> anyhow::Result<Running> {
    prepare(addr, config, public_url_from_env)
        .await?
        .serve()
        .await
}

/// A server whose address is bound but not yet listened on: connections are refused until
/// [`Prepared::serve`] (so demo seeding can finish first).
#[derive(Debug)]
pub struct Prepared {
    socket: TcpSocket,
    pub addr: SocketAddr,
    pub state: AppState,
}

/// Binds `addr` without listening (port 0 picks a free port), points signed URLs at it unless
/// `PUBLIC_BASE_URL` was given, and builds the state.
pub async fn prepare(
    addr: SocketAddr,
    mut config: Config,
    public_url_from_env: bool,
) -> anyhow::Result<Prepared> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted server may rebind a port in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let addr = socket.local_addr()?;
    if !public_url_from_env {
        config.public_base_url = format!("http://{addr}");
    }
    let state = AppState::from_config(config).await?;
    // Stores written before product counters had their own items: give them those (idempotent).
    let migrated = shared::domain::catalog::migrate_product_counters(state.store.as_ref()).await?;
    if migrated > 0 {
        tracing::info!(migrated, "product counters moved to their own items");
    }
    Ok(Prepared {
        socket,
        addr,
        state,
    })
}

impl Prepared {
    /// Starts listening and serving in a background task.
    pub async fn serve(self) -> anyhow::Result<Running> {
        start_with_state(self.socket.listen(1024)?, self.state).await
    }
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
        // With the peer address (`ConnectInfo`): login throttling counts per client address.
        let make = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            SocketAddr,
        >(service);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The document served by `app` (from the stated routers) is the one `openapi()` builds
    /// without a state, so no function is left out of either.
    #[test]
    fn the_stateless_document_is_the_served_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let state =
            AppState::for_tests(dir.path().to_path_buf()).unwrap_or_else(|e| panic!("state: {e}"));
        let served = shared::openapi::finish(routes(state).split_for_parts().1);
        let json = |d: &OpenApi| serde_json::to_value(d).unwrap_or_else(|e| panic!("json: {e}"));
        assert_eq!(json(&served), json(&openapi()));
        assert!(
            json(&served)["paths"]
                .as_object()
                .is_some_and(|p| p.len() > 30)
        );
    }

    /// Component names are global to the merged document: two functions naming different
    /// schemas alike would leave one of them described by the other's shape (the promotions
    /// `SegmentView` once overrode the segments one, and schemathesis failed on it).
    #[test]
    fn no_two_functions_give_one_schema_name_two_shapes() {
        let mut seen: std::collections::HashMap<String, serde_json::Value> =
            std::collections::HashMap::new();
        for part in parts() {
            for (name, schema) in part.components.map(|c| c.schemas).unwrap_or_default() {
                let shape = serde_json::to_value(&schema).unwrap_or_else(|e| panic!("json: {e}"));
                match seen.get(&name) {
                    Some(other) => assert_eq!(other, &shape, "schema {name} has two shapes"),
                    None => {
                        seen.insert(name, shape);
                    }
                }
            }
        }
        assert!(seen.len() > 100, "{} schemas", seen.len());
    }
}
