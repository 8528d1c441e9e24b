//! `POST /api/v1/admin/import/{kind}`: bulk import of users, products, interactions or historical
//! orders from a CSV (`text/csv`, with a header row) or JSON-lines (`application/x-ndjson`) body.
//! The work is [`shared::domain::import`]'s (its module docs: validation of the whole file first,
//! then batched writes, idempotent on ids); this is the HTTP edge: permissions, content type, body
//! limit, error mapping.
//!
//! Permissions: `users` needs `users.create` (and `assign_roles` when a row has a role other than
//! `customer`, as user creation does); `products` needs `products.create`; `interactions` needs
//! `system.admin` (no narrower permission covers the behaviour log); `orders` needs `orders.*`
//! (writing orders is more than the `orders.update` managers have).

use std::io::Read;

use axum::{
    Json,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, StatusCode},
};
use shared::{
    ApiError, ApiResult, AppState,
    auth::Permission,
    domain::import::{self, Context, Format, ImportError, ImportKind, ImportReport, Source},
    error::{ErrorBody, ErrorCode},
    http::AuthUser,
};

/// Largest import body: the Lambda synchronous-invocation payload limit (6 MB, which also holds
/// the event's envelope, so a body just under it can still be refused by API Gateway with 413).
/// Bigger files go through `local import KIND FILE`, which streams any size.
pub const MAX_IMPORT_BYTES: usize = 6 * 1024 * 1024;

/// The body limit of the import route (the other routes keep the configured 1 MB).
pub fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_IMPORT_BYTES)
}

fn permission_for(kind: ImportKind) -> Permission {
    match kind {
        ImportKind::Users => Permission::UsersCreate,
        ImportKind::Products => Permission::ProductsCreate,
        ImportKind::Interactions => Permission::SystemAdmin,
        ImportKind::Orders => Permission::OrdersAll,
    }
}

fn api_error(e: ImportError) -> ApiError {
    match e {
        ImportError::Rejected(errors) => ApiError {
            detail: format!(
                "Import rejected: {} problem(s) listed in field_errors (rows[<n>].<column>, rows \
                 numbered from 1 after the header); nothing was imported",
                errors.len()
            )
            .into(),
            ..ApiError::validation(errors)
        },
        ImportError::Forbidden(detail) => ApiError::forbidden(detail),
        ImportError::Io(e) => ApiError::malformed(format!("Could not read the body: {e}")),
        ImportError::Write(detail) => {
            tracing::error!(%detail, "import failed while writing");
            ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::ServiceUnavailable,
                    format!(
                        "{detail}; the rows before were written: send the same file again to \
                         complete the import"
                    ),
                )
            }
        }
    }
}

/// Bulk import.
#[utoipa::path(
    post, path = "/api/v1/admin/import/{kind}", tag = "admin", operation_id = "admin_import",
    security(("bearer" = [])),
    params(("kind" = String, Path, description = "users, products, interactions or orders")),
    request_body(content = String, content_type = "text/csv", description = "CSV with a header row, or JSON lines (Content-Type application/x-ndjson). \
        users: email, first_name, last_name, password | password_hash (argon2 PHC), optional id, username, phone, roles (a|b), is_active, created_at. \
        products: name, code, price (19.99), category_id | category (a name; created when missing), optional id, compare_price, brand, description, stock_quantity, in_stock, is_active, tags (a|b), images (a|b), meta_title, meta_description, created_at. \
        interactions: user_id, product_id, kind (view, cart, purchase, like, save, share, video_view, search_click, rec_click, not_interested), optional count, timestamp (ISO 8601 or epoch seconds). \
        orders: order_id, user_id, created_at, status, product_id, quantity, unit_price, optional payment_method, tax_amount, shipping_amount; the lines of one order are consecutive rows; stock is not touched."),
    responses(
        (status = 200, description = "Every row written, or skipped because an earlier import wrote it (ids already in the store; for interactions, batches of the same file)", body = ImportReport),
        (status = 401, body = ErrorBody),
        (status = 403, description = "users: users.create (and assign_roles for roles other than customer); products: products.create; interactions: system.admin; orders: orders.*", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: not an import kind", body = ErrorBody),
        (status = 413, description = "PAYLOAD_TOO_LARGE: body over 6 MB (use `local import`)", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE: not text/csv or application/x-ndjson", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: field_errors name each bad row (rows[<n>].<column>); nothing was written", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: writing failed part-way; sending the same file again completes the import", body = ErrorBody),
    )
)]
pub async fn import_file(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    let kind = ImportKind::parse(&kind).ok_or_else(|| {
        ApiError::not_found(format!(
            "No import of {kind:?}: users, products, interactions or orders"
        ))
    })?;
    auth.require(permission_for(kind))?;
    let format = shared::http::extract::media_type(&headers)
        .as_deref()
        .and_then(Format::from_media_type)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "Expected text/csv or application/x-ndjson (JSON lines)",
            )
        })?;
    let ctx = Context {
        store: state.store.as_ref(),
        embedder: state.embedder.as_ref(),
        may_assign_roles: auth.has(Permission::AssignRoles),
    };
    let open = move || -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(body.clone())))
    };
    let report = import::run(
        &ctx,
        kind,
        &Source {
            format,
            open: &open,
        },
    )
    .await
    .map_err(api_error)?;
    tracing::info!(
        kind = kind.name(),
        rows = report.rows,
        skipped = report.skipped,
        by = %auth.user_id,
        "import done"
    );
    Ok(Json(report))
}
