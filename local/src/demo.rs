//! Demo data for `local serve --demo`: deterministic, idempotent (re-seeding changes nothing).
//!
//! The demo admin uses the credentials spec 002 documents. It exists only here: the
//! configuration refuses demo mode with cloud backends, and the cloud's first admin comes from
//! `local bootstrap-admin` with a password taken from a secret.

use shared::{
    AppState,
    auth::{Role, password::hash_password},
    domain::users::{self, Address, NewUser, UserError},
};

pub const ADMIN_EMAIL: &str = "admin@ecommerce.com";
pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin123";
/// Password of every demo customer and the demo manager.
pub const DEMO_PASSWORD: &str = "password123";
/// Demo customers are `customer000`, `customer001`, ...
pub const DEMO_CUSTOMER_PREFIX: &str = "customer";

const FIRST: [&str; 10] = [
    "John", "Maria", "Wei", "Aisha", "Lucas", "Sofia", "Kenji", "Amara", "Noah", "Elena",
];
const LAST: [&str; 10] = [
    "Doe", "Garcia", "Chen", "Khan", "Silva", "Rossi", "Sato", "Okafor", "Smith", "Novak",
];
const CITIES: [(&str, &str, &str); 5] = [
    ("New York", "NY", "10001"),
    ("Los Angeles", "CA", "90001"),
    ("Chicago", "IL", "60601"),
    ("Austin", "TX", "73301"),
    ("Seattle", "WA", "98101"),
];

/// Summary of what was seeded.
#[derive(Debug, Default)]
pub struct Seeded {
    pub created: usize,
    pub existing: usize,
}

/// Seeds the admin, one manager and `customers` customers.
pub async fn seed(state: &AppState, customers: usize) -> anyhow::Result<Seeded> {
    let store = state.store.as_ref();
    let mut out = Seeded::default();
    users::ensure_admin(
        store,
        ADMIN_EMAIL,
        ADMIN_USERNAME,
        hash_password(ADMIN_PASSWORD).await?,
    )
    .await?;
    let demo_hash = hash_password(DEMO_PASSWORD).await?;
    let mut people: Vec<(String, String, String, Role, Option<Address>)> = vec![(
        "manager".into(),
        "Morgan".into(),
        "Manager".into(),
        Role::Manager,
        None,
    )];
    for i in 0..customers {
        let (city, state_code, zip) = CITIES[i % CITIES.len()];
        let address = (i % 4 != 3).then(|| Address {
            street: format!("{} Market Street", 100 + i),
            city: city.into(),
            state: state_code.into(),
            zip_code: zip.into(),
            country: "US".into(),
            apartment: None,
            landmark: None,
            address_type: Some("home".into()),
        });
        people.push((
            format!("{DEMO_CUSTOMER_PREFIX}{i:03}"),
            FIRST[i % FIRST.len()].into(),
            LAST[(i / FIRST.len()) % LAST.len()].into(),
            Role::Customer,
            address,
        ));
    }
    for (username, first, last, role, address) in people {
        let result = users::create(
            store,
            NewUser {
                email: format!("{username}@demo.example.com"),
                username: Some(username),
                first_name: first,
                last_name: last,
                phone: None,
                address,
                is_active: true,
                roles: vec![role],
                password_hash: demo_hash.clone(),
            },
        )
        .await;
        match result {
            Ok(_) => out.created += 1,
            Err(UserError::EmailTaken | UserError::UsernameTaken) => out.existing += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
