//! Request and response bodies of the users routes.

use serde::{Deserialize, Serialize};
use shared::{
    auth::{Role, permissions_for},
    domain::users::{Address, UserRecord},
};
use utoipa::ToSchema;
use validator::Validate;

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RoleRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub date_of_birth: Option<String>,
    pub gender: Option<String>,
    pub address: Option<Address>,
    pub is_active: bool,
    pub roles: Vec<RoleRef>,
    pub permissions: Vec<String>,
}

impl From<UserRecord> for Profile {
    fn from(u: UserRecord) -> Self {
        let permissions = permissions_for(&u.roles);
        Self {
            roles: u
                .roles
                .iter()
                .filter_map(|r| Role::parse(r))
                .map(|r| RoleRef {
                    id: r.id().into(),
                    name: r.name().into(),
                })
                .collect(),
            permissions,
            id: u.id,
            email: u.email,
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            phone: u.phone,
            date_of_birth: u.date_of_birth,
            gender: u.gender,
            address: u.address,
            is_active: u.is_active,
        }
    }
}

/// Every field is optional; fields left out are unchanged.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateProfileRequest {
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub last_name: Option<String>,
    #[schema(pattern = r"^\+?[ .()-]*([0-9][ .()-]*){7,15}$")]
    #[validate(custom(function = "shared::domain::users::validate_phone"))]
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(pattern = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    #[validate(custom(function = "shared::domain::users::validate_date_of_birth"))]
    pub date_of_birth: Option<String>,
    /// `male`, `female`, `other` or `prefer_not_to_say`.
    #[schema(pattern = r"^(male|female|other|prefer_not_to_say)$")]
    #[validate(custom(function = "shared::domain::users::validate_gender"))]
    pub gender: Option<String>,
    #[validate(nested)]
    pub address: Option<Address>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateUsernameRequest {
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$")]
    #[validate(custom(function = "shared::domain::users::validate_username"))]
    pub username: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsernameUpdated {
    pub message: String,
    pub username: String,
}

/// Query of `GET /api/v1/users/viewed-products`.
#[derive(Debug, Deserialize, Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewedParams {
    /// How many, most recent first: 1-50 (default 20).
    #[serde(default = "default_viewed_limit")]
    #[param(minimum = 1, maximum = 50)]
    #[validate(range(min = 1, max = 50, message = "must be between 1 and 50"))]
    pub limit: u32,
}

fn default_viewed_limit() -> u32 {
    20
}

/// A product in the viewed history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ViewedProduct {
    pub id: String,
    pub name: String,
    pub price: f64,
    pub brand: Option<String>,
    pub images: Vec<String>,
    pub in_stock: bool,
    pub is_active: bool,
    /// When the caller last viewed it (RFC 3339).
    pub viewed_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ViewedProducts {
    pub viewed_products: Vec<ViewedProduct>,
}
