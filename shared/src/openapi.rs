//! OpenAPI document assembly and the documentation pages.
//!
//! Each function exposes an `utoipa_axum::router::OpenApiRouter`; the local server merges them
//! and serves the merged document at `/openapi.json`, Swagger UI at `/docs` and ReDoc at `/redoc`.
//! The two pages are small HTML shells that load the viewers' published scripts from a CDN, the
//! way FastAPI (the spec's reference stack) serves them; the document itself is generated here.
//! (utoipa-swagger-ui would embed the viewer, but it downloads it at build time, which an offline
//! build cannot do.)

use std::collections::BTreeMap;

use axum::http::StatusCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{
    Modify,
    openapi::{
        OpenApi, OpenApiBuilder, Ref, RefOr,
        path::{Operation, ParameterIn},
        response::{Response, ResponseBuilder},
        schema::{Schema, SchemaType, Type},
    },
};

use crate::config::{APP_NAME, APP_VERSION};

/// Name of the bearer security scheme used by every authenticated route.
pub const BEARER: &str = "bearer";

/// Adds the title, version, bearer scheme and shared error schema to a merged document, then
/// completes every operation's responses (see [`complete_responses`]).
pub fn finish(mut api: OpenApi) -> OpenApi {
    api.info.title = APP_NAME.to_string();
    api.info.version = APP_VERSION.to_string();
    // utoipa fills contact and license from the utoipa crate's own Cargo metadata, not ours.
    api.info.contact = None;
    api.info.license = None;
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
    for item in api.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            complete_responses(op);
        }
    }
    api
}

/// Adds the error responses the shared layers give every operation of a kind, so no handler has
/// to repeat them (each only where the status can really occur):
/// - a request body (`ValidJson`, `JsonOrForm`, raw bodies): 400 empty or malformed body,
///   413 over the body limit, 415 wrong content type, 422 a field failed validation;
/// - a bearer security requirement (the `AuthUser` / `MaybeAuthUser` extractors): 401 missing,
///   expired or invalid token (optional-auth routes refuse an invalid token too);
/// - a path or query parameter that is not a plain string: 422 when it does not parse or breaks
///   a stated limit.
///
/// Then every response without a description gets its status's reason phrase (OpenAPI requires
/// one).
pub fn complete_responses(op: &mut Operation) {
    let responses = &mut op.responses.responses;
    if op.request_body.is_some() {
        add_error(
            responses,
            StatusCode::BAD_REQUEST,
            "MALFORMED_REQUEST: empty or malformed body, or a field of the wrong type",
        );
        add_error(
            responses,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE: body over the limit",
        );
        add_error(
            responses,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE: a content type the operation does not take",
        );
        add_error(
            responses,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR: field_errors name each invalid field",
        );
    }
    let bearer = op
        .security
        .iter()
        .flatten()
        .any(|req| serde_json::to_value(req).is_ok_and(|v| v.get(BEARER).is_some()));
    if bearer {
        add_error(
            responses,
            StatusCode::UNAUTHORIZED,
            "Missing, expired or invalid bearer token",
        );
    }
    let typed_param = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => {
            matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query)
                && p.schema.as_ref().is_some_and(|s| !is_plain_string(s))
        }
        RefOr::Ref(_) => false,
    });
    if typed_param {
        add_error(
            responses,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR: a parameter does not parse or is out of range",
        );
    }
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = status
                .parse::<u16>()
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Response")
                .to_string();
        }
    }
}

fn add_error(
    responses: &mut BTreeMap<String, RefOr<Response>>,
    status: StatusCode,
    description: &str,
) {
    responses
        .entry(status.as_u16().to_string())
        .or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::content::ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        });
}

/// A string schema with no limit (no length, pattern, format or enum): any value parses.
fn is_plain_string(schema: &RefOr<Schema>) -> bool {
    match schema {
        RefOr::T(Schema::Object(o)) => {
            matches!(&o.schema_type, SchemaType::Type(Type::String))
                && o.max_length.is_none()
                && o.min_length.is_none()
                && o.pattern.is_none()
                && o.format.is_none()
                && o.enum_values.is_none()
        }
        _ => false,
    }
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

/// Schema of a tag list: at most 30 tags of 1-50 characters, not only spaces (what
/// `validate_tags` of the catalog and video routes accept), for `#[schema(schema_with = ...)]`.
pub fn tag_list_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(50))
                .pattern(Some(r"\S"))
                .build(),
        )
        .max_items(Some(30))
        .build()
}

/// [`tag_list_schema`], or null.
pub fn optional_tag_list_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut schema = tag_list_schema();
    schema.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    schema
}

/// Schema of an image URL list: at most 20 http(s) URLs of at most 2048 characters.
pub fn image_list_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(2048))
                .pattern(Some(r"^https?://"))
                .build(),
        )
        .max_items(Some(20))
        .build()
}

/// [`image_list_schema`], or null.
pub fn optional_image_list_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut schema = image_list_schema();
    schema.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    schema
}
