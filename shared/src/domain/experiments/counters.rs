//! The arm counters of an experiment and the results computed from them.
//!
//! Each arm has [`keys::EXPERIMENT_ARM_SHARDS`] counter items (no index keys); an event adds to
//! one of them, chosen at random, so a busy arm spreads its writes over eight
//! items instead of one hot one (DynamoDB caps one item near 1,000 writes a second). Distinct
//! users are added on the actor's shard by [`super::assignment`]. Results read every shard of
//! every arm in one batch get and sum them.
//!
//! Figures per arm: `users` (distinct actors assigned), `impressions` (items shown), `clicks`,
//! `conversions` (attributed purchase lines) and revenue in cents; the click-through rate is
//! clicks / impressions and the conversion rate conversions / impressions (the denominators of
//! the recommendation performance route), revenue per user is revenue / users. Each non-control
//! arm's two rates are z-tested against the control's ([`abtest::two_proportion_z_test`]).

use std::collections::HashMap;

use serde_json::Value;

use super::{ArmEvent, ArmRef, Experiment};
use crate::reco::abtest;
use crate::store::{ItemStore, Key, StoreResult, Update, keys};

/// The shard an event goes to: a random one, as the recommendation rollups pick theirs (no
/// process-wide counter).
fn event_shard() -> u32 {
    rand::random_range(0..keys::EXPERIMENT_ARM_SHARDS)
}

/// Counts `event` for `arm` (one `ADD` on one shard).
pub async fn count(store: &dyn ItemStore, arm: &ArmRef, event: ArmEvent) -> StoreResult<()> {
    let update = match event {
        ArmEvent::Impressions(0) => return Ok(()),
        ArmEvent::Impressions(n) => Update::new().add("impressions", i64::from(n)),
        ArmEvent::Click => Update::new().add("clicks", 1),
        ArmEvent::Conversion { revenue_cents } => Update::new()
            .add("conversions", 1)
            .add("revenue_cents", revenue_cents.max(0)),
    };
    let key = keys::experiment_arm_counters(&arm.experiment_id, &arm.arm, event_shard());
    store.update(&key, update, None).await?;
    Ok(())
}

/// One arm's figures and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmResults {
    pub arm: String,
    pub config_id: String,
    pub traffic_share: f64,
    pub is_control: bool,
    pub users: u64,
    pub impressions: u64,
    pub clicks: u64,
    pub conversions: u64,
    pub revenue_cents: i64,
    /// clicks / impressions (0 without impressions).
    pub click_through_rate: f64,
    /// conversions / impressions (0 without impressions).
    pub conversion_rate: f64,
    /// Revenue per distinct user, in cents (0 without users).
    pub revenue_per_user_cents: f64,
    /// Two-sided p-value of this arm's click-through rate against the control's (`None` for
    /// the control, and where the test is not defined).
    pub click_through_p_value: Option<f64>,
    pub conversion_p_value: Option<f64>,
}

/// Every arm's results (in the experiment's arm order) and the arm the winner rule picks on
/// these figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    pub arms: Vec<ArmResults>,
    /// [`abtest::winner`] applied now (recorded as the winner when the experiment stops).
    pub leader: String,
}

fn ratio(x: f64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { x / n as f64 }
}

fn uint(item: &crate::store::Item, attr: &str) -> u64 {
    item.get(attr)
        .and_then(Value::as_i64)
        .map_or(0, |v| v.max(0) as u64)
}

/// The results of an experiment from its counters.
pub async fn results(store: &dyn ItemStore, experiment: &Experiment) -> StoreResult<Results> {
    let keys: Vec<Key> = experiment
        .arms
        .iter()
        .flat_map(|arm| {
            (0..keys::EXPERIMENT_ARM_SHARDS)
                .map(|s| keys::experiment_arm_counters(&experiment.id, &arm.name, s))
        })
        .collect();
    let items = store.batch_get(&keys).await?;
    let by_key: HashMap<Key, &crate::store::Item> = items
        .iter()
        .filter_map(|item| Some((Key::of(item)?, item)))
        .collect();
    let control = experiment.control_index();
    let mut arms: Vec<ArmResults> = experiment
        .arms
        .iter()
        .enumerate()
        .map(|(i, arm)| {
            let mut r = ArmResults {
                arm: arm.name.clone(),
                config_id: arm.config_id.clone(),
                traffic_share: arm.traffic_share,
                is_control: i == control,
                users: 0,
                impressions: 0,
                clicks: 0,
                conversions: 0,
                revenue_cents: 0,
                click_through_rate: 0.0,
                conversion_rate: 0.0,
                revenue_per_user_cents: 0.0,
                click_through_p_value: None,
                conversion_p_value: None,
            };
            for item in (0..keys::EXPERIMENT_ARM_SHARDS).filter_map(|shard| {
                by_key.get(&keys::experiment_arm_counters(
                    &experiment.id,
                    &arm.name,
                    shard,
                ))
            }) {
                r.users += uint(item, "users");
                r.impressions += uint(item, "impressions");
                r.clicks += uint(item, "clicks");
                r.conversions += uint(item, "conversions");
                r.revenue_cents += uint(item, "revenue_cents") as i64;
            }
            r.click_through_rate = ratio(r.clicks as f64, r.impressions);
            r.conversion_rate = ratio(r.conversions as f64, r.impressions);
            r.revenue_per_user_cents = ratio(r.revenue_cents as f64, r.users);
            r
        })
        .collect();
    if let Some(c) = arms.get(control).cloned() {
        for (i, r) in arms.iter_mut().enumerate() {
            if i == control {
                continue;
            }
            r.click_through_p_value =
                abtest::two_proportion_z_test(r.clicks, r.impressions, c.clicks, c.impressions)
                    .map(|t| t.p_value);
            r.conversion_p_value = abtest::two_proportion_z_test(
                r.conversions,
                r.impressions,
                c.conversions,
                c.impressions,
            )
            .map(|t| t.p_value);
        }
    }
    let figures: Vec<abtest::ArmFigures> = arms
        .iter()
        .map(|r| abtest::ArmFigures {
            impressions: r.impressions,
            clicks: r.clicks,
            conversions: r.conversions,
        })
        .collect();
    let leader = arms
        .get(abtest::winner(&figures, control))
        .map(|r| r.arm.clone())
        .unwrap_or_else(|| experiment.control.clone());
    Ok(Results { arms, leader })
}
