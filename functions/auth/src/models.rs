//! Request and response bodies of the auth routes.

use serde::{Deserialize, Serialize};
use shared::domain::users::Address;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

pub use shared::domain::users::validate_username;

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct RegisterRequest {
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
    /// 3-30 characters: letters, digits, `_`, `.`, `-`.
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$")]
    #[validate(custom(function = "validate_username"))]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(pattern = r"^\+?[ .()-]*([0-9][ .()-]*){7,15}$")]
    #[validate(custom(function = "shared::domain::users::validate_phone"))]
    pub phone: Option<String>,
    #[serde(default)]
    #[validate(nested)]
    pub address: Option<Address>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub message: String,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsernameQuery {
    /// The username to check.
    #[param(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$")]
    #[validate(custom(function = "validate_username"))]
    pub username: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsernameAvailability {
    pub available: bool,
    pub message: String,
}

/// Login form: `username` may be the email or the username.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 254)]
    #[validate(length(min = 1, max = 254, message = "Field required"))]
    pub username: String,
    #[schema(min_length = 1, max_length = 128)]
    #[validate(length(min = 1, max = 128, message = "Field required"))]
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginUser {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires (1800).
    pub expires_in: u64,
    pub user: LoginUser,
}
