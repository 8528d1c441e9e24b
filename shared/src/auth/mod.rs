//! Authentication and authorisation primitives: argon2id password hashes, HS256 JWTs carrying
//! roles and permissions, the role/permission model of spec 002 (wildcards such as `users.*`), and
//! the per-instance cache of account statuses that keeps tokens in step with their accounts.

pub mod jwt;
pub mod password;
pub mod roles;
pub mod status;

pub use jwt::{Claims, JwtError, JwtKeys};
pub use roles::{Permission, Role, has_permission, permissions_for};
pub use status::{AccountStatus, StatusCache};
