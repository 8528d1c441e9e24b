//! Request and response bodies of the admin routes.

use serde::{Deserialize, Serialize};
use shared::domain::users::{Address, UserRecord};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// `GET /api/v1/admin/users/` query.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Page number, from 1.
    #[serde(default = "one")]
    #[param(minimum = 1, maximum = 100000)]
    #[validate(range(min = 1, max = 100000, message = "must be between 1 and 100000"))]
    pub page: u32,
    /// Users per page (1-100).
    #[serde(default = "twenty")]
    #[param(minimum = 1, maximum = 100)]
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub page_size: u32,
    /// Case-insensitive match on name, email or username.
    #[param(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    pub search: Option<String>,
}

fn one() -> u32 {
    1
}
fn twenty() -> u32 {
    20
}

/// A user as the admin console sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminUser {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub is_active: bool,
    pub roles: Vec<String>,
    pub created_at: String,
    pub login_count: u64,
    pub last_login: Option<String>,
}

impl From<UserRecord> for AdminUser {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            phone: u.phone,
            address: u.address,
            is_active: u.is_active,
            roles: u.roles,
            created_at: u.created_at,
            login_count: u.login_count,
            last_login: u.last_login,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateUserRequest {
    #[schema(format = Email, max_length = 254)]
    #[validate(
        email(message = "Invalid email format"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    #[validate(length(min = 8, max = 128, message = "Password must be 8-128 characters"))]
    pub password: String,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub first_name: String,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub last_name: String,
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$")]
    #[validate(custom(function = "shared::domain::users::validate_username"))]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(pattern = r"^\+?[ .()-]*([0-9][ .()-]*){7,15}$")]
    #[validate(custom(function = "shared::domain::users::validate_phone"))]
    pub phone: Option<String>,
    #[serde(default)]
    #[validate(nested)]
    pub address: Option<Address>,
    #[serde(default = "yes")]
    pub is_active: bool,
    /// Role ids or names; defaults to `["customer"]`.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

/// Fields left out are unchanged.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateUserRequest {
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub last_name: Option<String>,
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$")]
    #[validate(custom(function = "shared::domain::users::validate_username"))]
    pub username: Option<String>,
    #[schema(pattern = r"^\+?[ .()-]*([0-9][ .()-]*){7,15}$")]
    #[validate(custom(function = "shared::domain::users::validate_phone"))]
    pub phone: Option<String>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleInfo {
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleChange {
    pub message: String,
    pub user_id: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserDataStats {
    pub total_users: i64,
    pub users_with_usernames: i64,
    pub users_with_addresses: i64,
    /// Users whose recently-viewed list is not empty.
    pub users_with_viewed_products: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SystemHealth {
    /// `healthy` or `unhealthy`.
    pub database: String,
    pub database_backend: String,
    /// Models in force: the classroom's text classifier and the teachers' clustering, each
    /// counted when its `CURRENT` pointer exists (0 to 2).
    pub ml_models_active: i64,
    /// `configured` with the embeddings backend and model in `embeddings_backend`.
    pub embeddings_service: String,
    pub embeddings_backend: String,
    pub blob_backend: String,
    pub user_data_stats: UserDataStats,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecentActivity {
    /// Orders placed in the last 24 hours (hourly buckets: the current hour and the 23 before).
    pub orders_24h: i64,
    /// Accounts created in the last 24 hours.
    pub new_users_24h: i64,
    /// Orders paid cash on delivery placed in the last 24 hours.
    pub cod_orders_24h: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SystemStatus {
    pub system_health: SystemHealth,
    pub recent_activity: RecentActivity,
    pub timestamp: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SystemConfig {
    pub app_name: String,
    pub version: String,
    pub embedding_model: String,
    pub text_model: String,
    pub image_model: String,
    pub ai_backend: String,
    pub recommendation_models_enabled: Vec<String>,
    pub analytics_retention_days: u32,
    pub admin_panel_enabled: bool,
    pub default_payment_method: String,
    pub free_shipping_threshold: f64,
    pub access_token_expire_minutes: u64,
}
