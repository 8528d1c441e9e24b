//! OpenAPI document assembly and the documentation pages.
//!
//! Each function exposes an `utoipa_axum::router::OpenApiRouter`; the local server merges them
//! and serves the merged document at `/openapi.json`, Swagger UI at `/docs` and ReDoc at `/redoc`.
//! The two pages are small HTML shells that load the viewers' published scripts from a CDN, the
//! way FastAPI (the spec's reference stack) serves them; the document itself is generated here.
//! (utoipa-swagger-ui would embed the viewer, but it downloads it at build time, which an offline
//! build cannot do.)

use utoipa::{
    Modify,
    openapi::{
        OpenApi, OpenApiBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::config::{APP_NAME, APP_VERSION};

/// Name of the bearer security scheme used by every authenticated route.
pub const BEARER: &str = "bearer";

/// Adds the title, version, bearer scheme and shared error schema to a merged document.
pub fn finish(mut api: OpenApi) -> OpenApi {
    api.info.title = APP_NAME.to_string();
    api.info.version = APP_VERSION.to_string();
    api.info.description = Some(
        "Serverless personalization and recommendation platform. Errors use the ErrorBody schema."
            .to_string(),
    );
    SecurityAddon.modify(&mut api);
    let components = api.components.get_or_insert_with(Default::default);
    components
        .schemas
        .entry("ErrorBody".to_string())
        .or_insert_with(|| {
            utoipa::openapi::RefOr::T(
                <crate::error::ErrorBody as utoipa::PartialSchema>::schema().into(),
            )
        });
    components
        .schemas
        .entry("FieldError".to_string())
        .or_insert_with(|| {
            utoipa::openapi::RefOr::T(
                <crate::error::FieldError as utoipa::PartialSchema>::schema().into(),
            )
        });
    api
}

/// An empty document to merge function documents into.
pub fn base() -> OpenApi {
    OpenApiBuilder::new().build()
}

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Swagger UI page for `/docs`.
pub fn swagger_html(spec_url: &str) -> String {
    format!(
        r##"<!doctype html><html><head><meta charset="utf-8"><title>{APP_NAME} - Swagger UI</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "{spec_url}", dom_id: "#swagger-ui", persistAuthorization: true}});</script>
</body></html>"##
    )
}

/// ReDoc page for `/redoc`.
pub fn redoc_html(spec_url: &str) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{APP_NAME} - ReDoc</title></head>
<body><redoc spec-url="{spec_url}"></redoc>
<script src="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"></script>
</body></html>"#
    )
}
