//! Demo user segments: the demo customers get birth dates, genders, countries, interests and
//! devices (a third browse on phones, some on tablets), the spec's example segments are created
//! (High Value Customers, Mobile Users) with a few more (demographic, interest, manual VIP),
//! then generate-rfm runs (5 clusters, 365 days) and the `segments-refresh` job, so every
//! segment route answers with real members.
//!
//! Additive like the rest of the demo: a profile that has a date of birth (its device events
//! were recorded with it), preferences with interests, and a segment whose name exists are left
//! as they are; generate-rfm replaces only the segments it generated.

use serde_json::{Value, json};
use shared::{
    AppState,
    domain::{
        catalog,
        interactions::{self, Actor, InteractionKind, Signal},
        segments::{features, membership, records, rfm},
        users,
    },
};

use crate::demo::DEMO_CUSTOMER_PREFIX;

const COUNTRIES: [(&str, &str); 5] = [
    ("US", "NY"),
    ("GB", "London"),
    ("FR", "Ile-de-France"),
    ("DE", "Berlin"),
    ("CA", "Ontario"),
];
const INTERESTS: [&str; 6] = [
    "tech",
    "running",
    "cooking",
    "gaming",
    "photography",
    "travel",
];
const GENDERS: [&str; 3] = ["female", "male", "other"];

/// What was seeded.
#[derive(Debug, Default)]
pub struct SegmentsSeeded {
    pub profiles: usize,
    pub device_events: usize,
    pub segments_created: usize,
    pub rfm_segments: usize,
    pub refreshed_members: u64,
}

/// The segments the demo creates (name, type, criteria, auto_update).
fn demo_segments() -> Vec<(&'static str, &'static str, &'static str, Value, bool)> {
    vec![
        (
            "High Value Customers",
            "Customers with high lifetime value",
            "rfm",
            json!({"monetary_amount": {"min": 500, "max": null},
                "frequency_orders": {"min": 3, "max": null},
                "recency_days": {"min": 0, "max": 90}}),
            true,
        ),
        (
            "Mobile Users",
            "Users who primarily shop via mobile",
            "behavioral",
            json!({"event_types": ["product_view", "add_to_cart"], "device_type": "mobile",
                "min_events": 5, "days_back": 30}),
            true,
        ),
        (
            "Young Europeans",
            "18-34 year olds in the UK, France or Germany",
            "demographic",
            json!({"age": {"min": 18, "max": 34}, "country": ["GB", "FR", "DE"]}),
            true,
        ),
        (
            "Tech Enthusiasts",
            "Interested in tech or gaming",
            "interest",
            json!({"interests": ["tech", "gaming"], "match": "any"}),
            true,
        ),
        (
            "VIP List",
            "Hand-picked customers",
            "manual",
            json!({}),
            false,
        ),
    ]
}

/// Seeds the segment demo for `customers` demo customers (see the module docs).
pub async fn seed_segments(state: &AppState, customers: usize) -> anyhow::Result<SegmentsSeeded> {
    let store = state.store.as_ref();
    let mut out = SegmentsSeeded::default();
    let products: Vec<String> = catalog::list_all_products(store)
        .await?
        .into_iter()
        .filter(|p| p.is_active)
        .map(|p| p.id)
        .take(40)
        .collect();
    let today = chrono::Utc::now().date_naive();
    let mut vips = Vec::new();
    for i in 0..customers {
        let login = format!("{DEMO_CUSTOMER_PREFIX}{i:03}");
        let Some(user) = users::find_by_login(store, &login).await? else {
            continue;
        };
        if i % 10 == 0 {
            vips.push(user.id.clone());
        }
        // First time this customer is set up (no birth date yet): profile and device events.
        let first_time = user.date_of_birth.is_none();
        if first_time {
            let age = 18 + (i * 7) % 50;
            let dob = today - chrono::Days::new((age * 365 + (i * 13) % 300) as u64);
            let (country, region) = COUNTRIES[i % COUNTRIES.len()];
            users::update(store, &user.id, |u| {
                u.date_of_birth = Some(dob.format("%Y-%m-%d").to_string());
                u.gender = Some(GENDERS[i % GENDERS.len()].to_string());
                if let Some(a) = u.address.as_mut()
                    && country != "US"
                {
                    a.country = country.into();
                    a.state = region.into();
                }
                true
            })
            .await?;
            out.profiles += 1;
        }
        let prefs = users::get_preferences(store, &user.id).await?;
        if prefs.interests.is_empty() {
            let mut p = prefs;
            p.interests = vec![
                INTERESTS[i % INTERESTS.len()].to_string(),
                INTERESTS[(i / 2 + 3) % INTERESTS.len()].to_string(),
            ];
            p.interests.dedup();
            users::set_preferences(store, &user.id, &p).await?;
        }
        // Devices: a third browse on phones, one in six on tablets, the rest on desktops.
        if first_time && !products.is_empty() {
            let device = match i % 6 {
                0 | 3 => "mobile",
                1 => "tablet",
                _ => "desktop",
            };
            let n = 3 + i % 8;
            let signals: Vec<Signal> = (0..n)
                .map(|k| {
                    let kind = if k % 3 == 2 {
                        InteractionKind::Cart
                    } else {
                        InteractionKind::View
                    };
                    let product = &products[(i * 7 + k) % products.len()];
                    Signal::new(Actor::User(user.id.clone()), product.clone(), kind)
                        .at(chrono::Utc::now() - chrono::Duration::hours((k * 20) as i64))
                })
                .collect();
            features::with_device(device, interactions::record(store, &signals)).await?;
            out.device_events += signals.len();
        }
    }
    for (name, description, segment_type, criteria, auto_update) in demo_segments() {
        if records::by_name(store, name).await?.is_some() {
            continue;
        }
        let mut s = records::new_segment(
            name.into(),
            Some(description.into()),
            segment_type,
            criteria,
            auto_update,
        );
        s.is_active = true;
        records::create(store, &s)
            .await
            .map_err(|e| anyhow::anyhow!("demo segment {name}: {e:?}"))?;
        if segment_type == "manual" {
            for v in &vips {
                membership::add_manual(store, &s, v).await?;
            }
        }
        out.segments_created += 1;
    }
    match rfm::generate(store, &rfm::RfmRequest::default()).await {
        Ok(o) => out.rfm_segments = o.segments_created,
        Err(rfm::RfmError::NotEnoughCustomers { customers, k }) => {
            tracing::info!(customers, k, "demo: not enough customers for RFM segments");
        }
        Err(e) => return Err(e.into()),
    }
    let report = jobs_fn::run(
        state,
        &jobs_fn::JobEvent::named(jobs_fn::Job::SegmentsRefresh),
    )
    .await?;
    out.refreshed_members = report["report"]["members"].as_u64().unwrap_or(0);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_segments_have_members() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        crate::demo::seed(&state, 30).await.unwrap();
        crate::demo_catalog::seed_catalog(&state, 30).await.unwrap();
        crate::demo_orders::seed_orders(&state, 120, 30)
            .await
            .unwrap();
        let first = seed_segments(&state, 30).await.unwrap();
        assert_eq!(first.segments_created, 5);
        assert_eq!(first.profiles, 30);
        assert_eq!(first.rfm_segments, 5);
        let store = state.store.as_ref();
        let all = records::list(store).await.unwrap();
        let counts = membership::member_counts(store, &all).await.unwrap();
        for (s, n) in all.iter().zip(&counts) {
            assert!(*n > 0, "{} has no members", s.name);
        }
        // Again: nothing new, nothing duplicated.
        let again = seed_segments(&state, 30).await.unwrap();
        assert_eq!(
            (again.segments_created, again.profiles, again.device_events),
            (0, 0, 0)
        );
        assert_eq!(records::list(store).await.unwrap().len(), all.len());
    }
}
