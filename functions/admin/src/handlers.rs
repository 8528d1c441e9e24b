//! Handlers of the admin routes.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
};
use shared::error::ErrorCode;
use shared::{
    ApiError, ApiResult, AppState,
    auth::{Permission, Role, password},
    config::{APP_NAME, APP_VERSION, AiBackend},
    domain::{
        orders, stats,
        users::{self, NewUser},
        viewed,
    },
    error::ErrorBody,
    http::{AuthUser, ValidJson, ValidQuery},
};

use crate::models::*;

fn user_not_found() -> ApiError {
    ApiError::not_found("User not found").with_code(ErrorCode::UserNotFound)
}

fn role_of(id_or_name: &str) -> ApiResult<Role> {
    Role::parse(id_or_name)
        .ok_or_else(|| ApiError::not_found("Role not found").with_code(ErrorCode::RoleNotFound))
}

/// Users, newest first, with search and pagination. The total is in `X-Total-Count`.
#[utoipa::path(
    get, path = "/api/v1/admin/users", tag = "admin",
    security(("bearer" = [])),
    params(ListUsersQuery),
    responses(
        (status = 200, body = Vec<AdminUser>, headers(("x-total-count" = u64, description = "Matching users"))),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Requires users.view", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidQuery(q): ValidQuery<ListUsersQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<AdminUser>>)> {
    auth.require(Permission::UsersView)?;
    let offset = (q.page as usize - 1) * q.page_size as usize;
    let (page, total) = users::list(
        state.store.as_ref(),
        q.search.as_deref(),
        offset,
        q.page_size as usize,
    )
    .await?;
    let headers = shared::http::pagination::total_count_header(total);
    Ok((
        headers,
        Json(page.into_iter().map(AdminUser::from).collect()),
    ))
}

/// Create a user (any roles; defaults to customer).
#[utoipa::path(
    post, path = "/api/v1/admin/users", tag = "admin",
    security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 201, body = AdminUser),
        (status = 403, description = "Requires users.create (and assign_roles for non-customer roles)", body = ErrorBody),
        (status = 404, description = "Unknown role", body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(req): ValidJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<AdminUser>)> {
    auth.require(Permission::UsersCreate)?;
    let roles = match &req.roles {
        None => vec![Role::Customer],
        Some(list) if list.is_empty() => vec![Role::Customer],
        Some(list) => list
            .iter()
            .map(|r| role_of(r))
            .collect::<ApiResult<Vec<_>>>()?,
    };
    if roles.iter().any(|r| *r != Role::Customer) {
        auth.require(Permission::AssignRoles)?;
    }
    let password_hash = password::hash_password(&req.password).await?;
    let user = users::create(
        state.store.as_ref(),
        NewUser {
            email: req.email,
            username: req.username,
            first_name: req.first_name.trim().to_string(),
            last_name: req.last_name.trim().to_string(),
            phone: req.phone,
            address: req.address,
            is_active: req.is_active,
            roles,
            password_hash,
        },
    )
    .await?;
    tracing::info!(user_id = %user.id, by = %auth.user_id, "user created by admin");
    shared::domain::analytics::record_logged(
        state.store.as_ref(),
        shared::domain::analytics::user_created(&user),
    )
    .await;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// One user.
#[utoipa::path(
    get, path = "/api/v1/admin/users/{user_id}", tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = AdminUser),
        (status = 403, description = "Requires users.view", body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn get_user(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<AdminUser>> {
    auth.require(Permission::UsersView)?;
    let user = users::get(state.store.as_ref(), &user_id)
        .await?
        .ok_or_else(user_not_found)?;
    Ok(Json(user.into()))
}

/// Update names, username, phone or active flag. Changing the active flag revokes the user's
/// tokens (they answer 401 from then on; a re-activated user logs in again).
#[utoipa::path(
    put, path = "/api/v1/admin/users/{user_id}", tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = String, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, body = AdminUser),
        (status = 403, description = "Requires users.update", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Username taken, or deactivating yourself", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ValidJson(req): ValidJson<UpdateUserRequest>,
) -> ApiResult<Json<AdminUser>> {
    auth.require(Permission::UsersUpdate)?;
    if req.is_active == Some(false) && user_id == auth.user_id {
        return Err(ApiError::conflict(
            ErrorCode::SelfLockout,
            "You cannot deactivate your own account",
        ));
    }
    let user = users::update(state.store.as_ref(), &user_id, |u| {
        if let Some(v) = &req.first_name {
            u.first_name = v.trim().to_string();
        }
        if let Some(v) = &req.last_name {
            u.last_name = v.trim().to_string();
        }
        if req.username.is_some() {
            u.username.clone_from(&req.username);
        }
        if req.phone.is_some() {
            u.phone.clone_from(&req.phone);
        }
        if let Some(v) = req.is_active {
            u.is_active = v;
        }
        true
    })
    .await?;
    // This instance sees the change at once; others when their copy expires (a few seconds).
    state.auth_status.forget(&user.id);
    Ok(Json(user.into()))
}

/// Give a user a role (by role id or name). Assigning a role the user has is a no-op; otherwise
/// the user's tokens are revoked (401) and the next login carries the new role.
#[utoipa::path(
    post, path = "/api/v1/admin/users/{user_id}/roles/{role_id}", tag = "admin",
    security(("bearer" = [])),
    params(
        ("user_id" = String, Path, description = "User id"),
        ("role_id" = String, Path, description = "Role id or name"),
    ),
    responses(
        (status = 200, body = RoleChange),
        (status = 403, description = "Requires assign_roles", body = ErrorBody),
        (status = 404, description = "Unknown user or role", body = ErrorBody),
    )
)]
pub async fn assign_role(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, role_id)): Path<(String, String)>,
) -> ApiResult<Json<RoleChange>> {
    auth.require(Permission::AssignRoles)?;
    let role = role_of(&role_id)?;
    let user = users::update(state.store.as_ref(), &user_id, |u| {
        if u.roles.iter().any(|r| r == role.name()) {
            return false;
        }
        u.roles.push(role.name().to_string());
        true
    })
    .await?;
    state.auth_status.forget(&user.id);
    tracing::info!(user_id = %user.id, role = role.name(), by = %auth.user_id, "role assigned");
    Ok(Json(RoleChange {
        message: format!("Role '{}' assigned", role.name()),
        user_id: user.id,
        roles: user.roles,
    }))
}

/// Take a role from a user. Removing a role the user lacks is a no-op; an admin cannot remove
/// their own admin role (409), so the system always keeps the admin who is acting. The user's
/// tokens are revoked (401): the next login carries the remaining roles.
#[utoipa::path(
    delete, path = "/api/v1/admin/users/{user_id}/roles/{role_id}", tag = "admin",
    security(("bearer" = [])),
    params(
        ("user_id" = String, Path, description = "User id"),
        ("role_id" = String, Path, description = "Role id or name"),
    ),
    responses(
        (status = 200, body = RoleChange),
        (status = 403, description = "Requires assign_roles", body = ErrorBody),
        (status = 404, description = "Unknown user or role", body = ErrorBody),
        (status = 409, description = "Removing your own admin role", body = ErrorBody),
    )
)]
pub async fn remove_role(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, role_id)): Path<(String, String)>,
) -> ApiResult<Json<RoleChange>> {
    auth.require(Permission::AssignRoles)?;
    let role = role_of(&role_id)?;
    if role == Role::Admin && user_id == auth.user_id {
        return Err(ApiError::conflict(
            ErrorCode::SelfLockout,
            "You cannot remove your own admin role",
        ));
    }
    let user = users::update(state.store.as_ref(), &user_id, |u| {
        let before = u.roles.len();
        u.roles.retain(|r| r != role.name());
        u.roles.len() != before
    })
    .await?;
    state.auth_status.forget(&user.id);
    tracing::info!(user_id = %user.id, role = role.name(), by = %auth.user_id, "role removed");
    Ok(Json(RoleChange {
        message: format!("Role '{}' removed", role.name()),
        user_id: user.id,
        roles: user.roles,
    }))
}

/// The roles with their ids and permissions.
#[utoipa::path(
    get, path = "/api/v1/admin/roles", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<RoleInfo>),
        (status = 403, description = "Requires users.view", body = ErrorBody),
    )
)]
pub async fn list_roles(auth: AuthUser) -> ApiResult<Json<Vec<RoleInfo>>> {
    auth.require(Permission::UsersView)?;
    Ok(Json(
        Role::ALL
            .into_iter()
            .map(|r| RoleInfo {
                id: r.id().into(),
                name: r.name().into(),
                permissions: r.permissions().iter().map(|p| p.to_string()).collect(),
            })
            .collect(),
    ))
}

/// Health of the backends and headline counters.
#[utoipa::path(
    get, path = "/api/v1/admin/system/status", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SystemStatus),
        (status = 403, description = "Requires system.admin", body = ErrorBody),
    )
)]
pub async fn system_status(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<SystemStatus>> {
    auth.require(Permission::SystemAdmin)?;
    let store = state.store.as_ref();
    let database = match store.ping().await {
        Ok(()) => "healthy",
        Err(e) => {
            tracing::error!(error = %e, "store health check failed");
            "unhealthy"
        }
    };
    let embed = state.embedder.provenance();
    Ok(Json(SystemStatus {
        system_health: SystemHealth {
            database: database.into(),
            database_backend: store.backend_name().into(),
            ml_models_active: stats::models_in_force(store).await?,
            embeddings_service: "configured".into(),
            embeddings_backend: format!("{}:{}", embed.backend, embed.model_id),
            blob_backend: state.blobs.backend_name().into(),
            user_data_stats: UserDataStats {
                total_users: stats::total(store, "users").await?,
                users_with_usernames: stats::total(store, "users_with_usernames").await?,
                users_with_addresses: stats::total(store, "users_with_addresses").await?,
                users_with_viewed_products: stats::total(store, viewed::USERS_WITH_VIEWED).await?,
            },
        },
        recent_activity: RecentActivity {
            orders_24h: stats::last_24h(store, orders::ORDERS_COUNTER).await?,
            new_users_24h: stats::last_24h(store, "new_users").await?,
            cod_orders_24h: stats::last_24h(store, orders::COD_ORDERS_COUNTER).await?,
        },
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }))
}

/// Application settings (never secrets).
#[utoipa::path(
    get, path = "/api/v1/admin/system/config", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SystemConfig),
        (status = 403, description = "Requires system.settings", body = ErrorBody),
    )
)]
pub async fn system_config(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<SystemConfig>> {
    auth.require(Permission::SystemSettings)?;
    let c = &state.config;
    Ok(Json(SystemConfig {
        app_name: APP_NAME.into(),
        version: APP_VERSION.into(),
        embedding_model: state.embedder.provenance().model_id,
        text_model: state.text.provenance().model_id,
        image_model: state.images.provenance().model_id,
        ai_backend: match c.ai {
            AiBackend::Local => "local",
            AiBackend::Bedrock => "bedrock",
        }
        .into(),
        recommendation_models_enabled: vec![
            "collaborative".into(),
            "content_based".into(),
            "ml_models".into(),
        ],
        analytics_retention_days: 365,
        admin_panel_enabled: true,
        default_payment_method: "cash_on_delivery".into(),
        free_shipping_threshold: 50.0,
        access_token_expire_minutes: c.jwt_ttl.as_secs() / 60,
    }))
}
