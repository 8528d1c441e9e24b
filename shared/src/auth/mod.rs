//! Authentication and authorisation primitives: argon2id password hashes, HS256 JWTs carrying
//! roles and permissions, and the role/permission model of spec 002 (wildcards such as `users.*`).

pub mod jwt;
pub mod password;
pub mod roles;

pub use jwt::{Claims, JwtError, JwtKeys};
pub use roles::{Role, has_permission, permissions_for};
