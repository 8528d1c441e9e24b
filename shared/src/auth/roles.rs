//! Roles and permissions of spec 002. A granted permission ending in `.*` covers every permission
//! with that prefix (`users.*` covers `users.view`); `*` alone covers everything.

use serde::{Deserialize, Serialize};
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

    /// What the role grants (wildcards included).
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Customer => &[
                ProductsView,
                CartView,
                CartManage,
                OrdersView,
                AnalyticsView,
            ],
            Role::Manager => &[
                ProductsView,
                ProductsUpdate,
                ProductsManageInventory,
                OrdersView,
                OrdersViewAll,
                OrdersUpdate,
                AnalyticsView,
                UsersView,
            ],
            Role::Admin => &[
                UsersAll,
                ProductsAll,
                OrdersAll,
                AnalyticsAll,
                SystemAll,
                AssignRoles,
                ViewUserSegmentation,
                ManageUserSegmentation,
                AdminDashboard,
            ],
        }
    }
}

/// The permission names of spec 002, as tokens and `GET /admin/roles` spell them (`as_str` and
/// serde use the same names). The `*All` variants are the wildcard grants (`users.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "users.view")]
    UsersView,
    #[serde(rename = "users.create")]
    UsersCreate,
    #[serde(rename = "users.update")]
    UsersUpdate,
    #[serde(rename = "users.*")]
    UsersAll,
    #[serde(rename = "products.view")]
    ProductsView,
    #[serde(rename = "products.create")]
    ProductsCreate,
    #[serde(rename = "products.update")]
    ProductsUpdate,
    #[serde(rename = "products.delete")]
    ProductsDelete,
    #[serde(rename = "products.manage_inventory")]
    ProductsManageInventory,
    #[serde(rename = "products.*")]
    ProductsAll,
    #[serde(rename = "cart.view")]
    CartView,
    #[serde(rename = "cart.manage")]
    CartManage,
    #[serde(rename = "orders.view")]
    OrdersView,
    #[serde(rename = "orders.view_all")]
    OrdersViewAll,
    #[serde(rename = "orders.update")]
    OrdersUpdate,
    #[serde(rename = "orders.*")]
    OrdersAll,
    #[serde(rename = "analytics.view")]
    AnalyticsView,
    #[serde(rename = "analytics.view_detailed")]
    AnalyticsViewDetailed,
    #[serde(rename = "analytics.*")]
    AnalyticsAll,
    #[serde(rename = "system.admin")]
    SystemAdmin,
    #[serde(rename = "system.settings")]
    SystemSettings,
    #[serde(rename = "system.ml_models")]
    SystemMlModels,
    #[serde(rename = "system.*")]
    SystemAll,
    #[serde(rename = "assign_roles")]
    AssignRoles,
    #[serde(rename = "view_user_segmentation")]
    ViewUserSegmentation,
    #[serde(rename = "manage_user_segmentation")]
    ManageUserSegmentation,
    /// The admin console's quick stats (`GET /admin/analytics/dashboard/overview`).
    #[serde(rename = "admin_dashboard")]
    AdminDashboard,
}

impl Permission {
    pub const ALL: [Permission; 27] = {
        use Permission::*;
        [
            UsersView,
            UsersCreate,
            UsersUpdate,
            UsersAll,
            ProductsView,
            ProductsCreate,
            ProductsUpdate,
            ProductsDelete,
            ProductsManageInventory,
            ProductsAll,
            CartView,
            CartManage,
            OrdersView,
            OrdersViewAll,
            OrdersUpdate,
            OrdersAll,
            AnalyticsView,
            AnalyticsViewDetailed,
            AnalyticsAll,
            SystemAdmin,
            SystemSettings,
            SystemMlModels,
            SystemAll,
            AssignRoles,
            ViewUserSegmentation,
            ManageUserSegmentation,
            AdminDashboard,
        ]
    };

    pub fn as_str(self) -> &'static str {
        use Permission::*;
        match self {
            UsersView => "users.view",
            UsersCreate => "users.create",
            UsersUpdate => "users.update",
            UsersAll => "users.*",
            ProductsView => "products.view",
            ProductsCreate => "products.create",
            ProductsUpdate => "products.update",
            ProductsDelete => "products.delete",
            ProductsManageInventory => "products.manage_inventory",
            ProductsAll => "products.*",
            CartView => "cart.view",
            CartManage => "cart.manage",
            OrdersView => "orders.view",
            OrdersViewAll => "orders.view_all",
            OrdersUpdate => "orders.update",
            OrdersAll => "orders.*",
            AnalyticsView => "analytics.view",
            AnalyticsViewDetailed => "analytics.view_detailed",
            AnalyticsAll => "analytics.*",
            SystemAdmin => "system.admin",
            SystemSettings => "system.settings",
            SystemMlModels => "system.ml_models",
            SystemAll => "system.*",
            AssignRoles => "assign_roles",
            ViewUserSegmentation => "view_user_segmentation",
            ManageUserSegmentation => "manage_user_segmentation",
            AdminDashboard => "admin_dashboard",
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The union of the permissions of `roles` (unknown role names are ignored), sorted, no duplicates.
pub fn permissions_for<S: AsRef<str>>(roles: &[S]) -> Vec<String> {
    let mut out: Vec<String> = roles
        .iter()
        .filter_map(|r| Role::parse(r.as_ref()))
        .flat_map(|r| r.permissions().iter().map(|p| p.as_str().to_string()))
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
    fn permission_names_are_the_spec_strings() {
        for p in Permission::ALL {
            let json = serde_json::to_value(p).expect("serialise");
            assert_eq!(json, p.as_str(), "serde name of {p:?}");
            let back: Permission = serde_json::from_value(json).expect("parse");
            assert_eq!(back, p);
        }
        assert_eq!(Permission::UsersView.as_str(), "users.view");
        assert_eq!(Permission::UsersAll.to_string(), "users.*");
        let mut names: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Permission::ALL.len(), "names are unique");
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
            "system.ml_models",
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
