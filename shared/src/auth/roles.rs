//! Roles and permissions of spec 002. A granted permission ending in `.*` covers every permission
//! with that prefix (`users.*` covers `users.view`); `*` alone covers everything.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Manager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Customer, Role::Manager, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// Stable role id (a fixed UUID, so ids are the same in every deployment).
    pub fn id(self) -> &'static str {
        match self {
            Role::Customer => "6f1c2b7e-1d3a-4c8e-9a51-000000000001",
            Role::Manager => "6f1c2b7e-1d3a-4c8e-9a51-000000000002",
            Role::Admin => "6f1c2b7e-1d3a-4c8e-9a51-000000000003",
        }
    }

    /// A role by id or by name (case-insensitive).
    pub fn parse(id_or_name: &str) -> Option<Role> {
        Self::ALL
            .into_iter()
            .find(|r| r.id() == id_or_name || r.name().eq_ignore_ascii_case(id_or_name))
    }

    pub fn permissions(self) -> &'static [&'static str] {
        match self {
            Role::Customer => &[
                "products.view",
                "cart.view",
                "cart.manage",
                "orders.view",
                "analytics.view",
            ],
            Role::Manager => &[
                "products.view",
                "products.update",
                "products.manage_inventory",
                "orders.view",
                "orders.view_all",
                "orders.update",
                "analytics.view",
                "users.view",
            ],
            Role::Admin => &[
                "users.*",
                "products.*",
                "orders.*",
                "analytics.*",
                "system.*",
                "assign_roles",
                "view_user_segmentation",
                "manage_user_segmentation",
            ],
        }
    }
}

/// The union of the permissions of `roles` (unknown role names are ignored), sorted, no duplicates.
pub fn permissions_for<S: AsRef<str>>(roles: &[S]) -> Vec<String> {
    let mut out: Vec<String> = roles
        .iter()
        .filter_map(|r| Role::parse(r.as_ref()))
        .flat_map(|r| r.permissions().iter().map(|p| p.to_string()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// True when `granted` covers `needed`.
pub fn has_permission<S: AsRef<str>>(granted: &[S], needed: &str) -> bool {
    granted.iter().any(|g| {
        let g = g.as_ref();
        g == needed
            || g == "*"
            || g.strip_suffix(".*").is_some_and(|prefix| {
                needed.len() > prefix.len() + 1
                    && needed.starts_with(prefix)
                    && needed.as_bytes()[prefix.len()] == b'.'
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_their_prefix_only() {
        assert!(has_permission(&["users.*"], "users.view"));
        assert!(has_permission(&["users.*"], "users.create"));
        assert!(!has_permission(&["users.*"], "usersx.view"));
        assert!(!has_permission(&["users.*"], "users"));
        assert!(!has_permission(&["users.view"], "users.create"));
        assert!(has_permission(&["*"], "system.admin"));
        assert!(!has_permission::<&str>(&[], "products.view"));
    }

    #[test]
    fn role_permissions_match_spec() {
        let admin = permissions_for(&["admin"]);
        for p in [
            "users.view",
            "users.create",
            "users.update",
            "system.admin",
            "system.settings",
            "assign_roles",
        ] {
            assert!(has_permission(&admin, p), "admin lacks {p}");
        }
        let manager = permissions_for(&["manager"]);
        assert!(has_permission(&manager, "users.view"));
        assert!(!has_permission(&manager, "users.create"));
        assert!(!has_permission(&manager, "assign_roles"));
        let customer = permissions_for(&["customer"]);
        assert!(!has_permission(&customer, "users.view"));
        assert_eq!(Role::parse("MANAGER"), Some(Role::Manager));
        assert_eq!(Role::parse(Role::Admin.id()), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }
}
