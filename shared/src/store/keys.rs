//! Every key pattern of the single table, in one place.
//!
//! | entity | PK | SK | GSI1PK / GSI1SK | GSI2PK / GSI2SK | notes |
//! |---|---|---|---|---|---|
//! | user | `USER#<id>` | `PROFILE` | `USERS` / `<created_at>#<id>` | - | admin list, newest first |
//! | email marker | `UNIQUE#EMAIL#<lowercase email>` | `UNIQUE` | - | - | `user_id`; uniqueness by transaction |
//! | username marker | `UNIQUE#USERNAME#<lowercase username>` | `UNIQUE` | - | - | `user_id` |
//! | user preferences | `USER#<id>` | `PREFERENCES` | - | - | |
//! | failed logins | `LOGINFAIL#<user id>` | `CURRENT` | - | - | `count`; `expires_at` = first failure + window |
//! | stats counter | `STATS` | `<name>` | - | - | atomic `ADD` counters (e.g. `users`) |
//! | hourly counter | `STATS#HOUR#<yyyy-mm-ddThh>` | `<name>` | - | - | `expires_at` after 8 days |

pub fn user(id: &str) -> super::Key {
    super::Key::new(format!("USER#{id}"), "PROFILE")
}

pub fn user_preferences(id: &str) -> super::Key {
    super::Key::new(format!("USER#{id}"), "PREFERENCES")
}

pub const USERS_INDEX_PK: &str = "USERS";

pub fn users_index_sk(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

pub fn email_marker(email: &str) -> super::Key {
    super::Key::new(
        format!("UNIQUE#EMAIL#{}", email.trim().to_lowercase()),
        "UNIQUE",
    )
}

pub fn username_marker(username: &str) -> super::Key {
    super::Key::new(
        format!("UNIQUE#USERNAME#{}", username.trim().to_lowercase()),
        "UNIQUE",
    )
}

pub fn login_failures(user_id: &str) -> super::Key {
    super::Key::new(format!("LOGINFAIL#{user_id}"), "CURRENT")
}

pub fn stats(name: &str) -> super::Key {
    super::Key::new("STATS", name)
}

pub fn hourly_stats(hour: &str, name: &str) -> super::Key {
    super::Key::new(format!("STATS#HOUR#{hour}"), name)
}
