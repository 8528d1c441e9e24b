//! Demo recommendation traffic: a few days of simulated shopper sessions on the homepage list, so
//! that the recommendation performance route and one finished A/B experiment show real numbers
//! out of the box.
//!
//! It runs the serving code the `recommendations` function runs (the same
//! [`Ctx::list`](shared::domain::recommendations::Ctx::list), experiment assignment, arm
//! weights and [`rec_tracking::record_served`]) and the tracking code its routes run
//! ([`rec_tracking::track_click`] and the `rec_click` interaction; orders placed with the list's
//! `recommendation_session_id`, attributed by order placement itself). Only the clock differs:
//! HTTP requests are always "now", so the simulation calls the same functions with the times of
//! the last [`DAYS`] days, and clicks and conversions land on the day their list was served.
//!
//! - An experiment on `homepage` (control: the active hybrid config; `variant`: a new hybrid
//!   config weighted towards collaborative filtering) is started; `sessions_per_day` times a
//!   day (`serve --demo-rec-sessions`, 60) a customer sees a homepage list of 10 (in the arm the
//!   experiment's hash gives them) and clicks with a probability that falls with the position
//!   (higher in the variant arm, so the
//!   experiment has something to find); about one click in four becomes an order of that product
//!   naming the list. The experiment is then stopped with `promote_winner`.
//! - Deterministic for a seed; additive like the rest of the demo: when the demo experiment
//!   exists already, nothing is simulated again.

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::json;
use shared::{
    AppState,
    domain::{
        experiments::{self, Arm, NewExperiment, StopOutcome},
        interactions::{self, Actor, InteractionKind, Signal},
        ml_models::{ModelCache, ModelType, configs},
        orders::{self, OrderAddress, PlaceOrder},
        rec_tracking::{self, Served, ServedItem},
        recommendations::{Ctx, ListKind, Serving},
        users,
    },
};

use crate::demo::DEMO_CUSTOMER_PREFIX;

/// The demo experiment's name (how a restart knows it ran).
pub const EXPERIMENT_NAME: &str = "Demo: collaborative-heavy homepage blend";
/// Days of simulated traffic, ending yesterday.
pub const DAYS: i64 = 3;
const LIST_SIZE: usize = 10;

/// What the simulation did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RecTraffic {
    pub lists: usize,
    pub clicks: usize,
    pub orders: usize,
    pub experiment_id: Option<String>,
    pub winner: Option<String>,
    /// The demo experiment existed: nothing was simulated.
    pub existing: bool,
}

/// Simulates the traffic (see the module docs) over the first `customers` demo customers.
pub async fn seed_rec_traffic(
    state: &AppState,
    customers: usize,
    sessions_per_day: usize,
    seed: u64,
) -> anyhow::Result<RecTraffic> {
    let store = state.store.as_ref();
    let mut out = RecTraffic::default();
    if let Some(e) = experiments::list(store)
        .await?
        .into_iter()
        .find(|e| e.name == EXPERIMENT_NAME)
    {
        out.existing = true;
        out.experiment_id = Some(e.id);
        return Ok(out);
    }
    let mut shoppers = Vec::new();
    for i in 0..customers {
        let login = format!("{DEMO_CUSTOMER_PREFIX}{i:03}");
        if let Some(u) = users::find_by_login(store, &login).await? {
            shoppers.push(u.id);
        }
    }
    if shoppers.is_empty() {
        return Ok(out);
    }

    configs::ensure_defaults(store).await?;
    let control = configs::active(store, ModelType::Hybrid).await?;
    let variant = configs::create(
        store,
        "hybrid-collaborative-heavy",
        ModelType::Hybrid,
        Some("Demo experiment arm: more weight on ALS and EASE".into()),
        json!({"weights": {"als": 0.55, "ease": 0.3, "item_knn": 0.1, "popularity": 0.05}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
    .await?;
    let experiment = experiments::create(
        store,
        NewExperiment {
            name: EXPERIMENT_NAME.into(),
            description: Some(
                "Seeded by `serve --demo`: simulated sessions of the last days".into(),
            ),
            recommendation_type: "homepage".into(),
            arms: vec![
                Arm {
                    name: "control".into(),
                    config_id: control.id.clone(),
                    traffic_share: 50.0,
                },
                Arm {
                    name: "variant".into(),
                    config_id: variant.id.clone(),
                    traffic_share: 50.0,
                },
            ],
        },
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo experiment: {e:?}"))?;
    out.experiment_id = Some(experiment.id.clone());

    let models = ModelCache::default();
    let serving = Serving::default();
    let ctx = Ctx {
        app: state,
        models: &models,
        serving: &serving,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .context("midnight")?
        .and_utc();
    for back in (1..=DAYS).rev() {
        let day = today - Duration::days(back);
        for s in 0..sessions_per_day {
            let user = &shoppers[(s * 7 + back as usize * 13) % shoppers.len()];
            let at = day + Duration::seconds(rng.random_range(8 * 3600..22 * 3600));
            let clicked = session(&ctx, user, at, &mut rng, &mut out).await?;
            for (list_id, product_id) in clicked {
                if rng.random_bool(0.25) && order(state, user, &list_id, &product_id).await? {
                    out.orders += 1;
                }
            }
        }
    }
    if let StopOutcome::Stopped { experiment, .. } =
        experiments::stop(store, &experiment.id, true).await?
    {
        out.winner = experiment.winner;
    }
    Ok(out)
}

/// One homepage visit at `at`: the list served, its clicks. Returns the (list, product) clicks.
async fn session(
    ctx: &Ctx<'_>,
    user: &str,
    at: DateTime<Utc>,
    rng: &mut StdRng,
    out: &mut RecTraffic,
) -> anyhow::Result<Vec<(String, String)>> {
    let store = ctx.app.store.as_ref();
    let actor = Actor::User(user.to_string());
    let assignment = experiments::assignment(store, "homepage", &actor.log_id()).await?;
    let weights = match &assignment {
        Some(a) => ctx.serving.arm_weights(ctx.app, &a.config_id).await?,
        None => None,
    };
    let items = ctx
        .list(&ListKind::Homepage, Some(&actor), weights, LIST_SIZE)
        .await?;
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let arm = assignment.map(|a| a.arm);
    let variant = arm.as_ref().is_some_and(|a| a.arm == "variant");
    let id = rec_tracking::new_recommendation_id();
    let served = Served {
        recommendation_type: "homepage".into(),
        blended: true,
        actor: Some(actor.clone()),
        arm,
        items: items
            .iter()
            .map(|i| ServedItem {
                product_id: i.product.id.clone(),
                algorithm: i.algorithm,
                score: i.score,
            })
            .collect(),
    };
    rec_tracking::record_served(store, &id, &served, at).await?;
    out.lists += 1;
    let mut clicks = Vec::new();
    for (position, item) in items.iter().enumerate() {
        // A click-through rate that falls with the position: 12% at the top in the control arm,
        // 18% in the variant.
        let top = if variant { 0.18 } else { 0.12 };
        let p = top * (1.0 - position as f64 / (LIST_SIZE as f64 * 1.5));
        if !rng.random_bool(p.clamp(0.0, 1.0)) {
            continue;
        }
        let t = at + Duration::seconds(30 + position as i64 * 20);
        let outcome = rec_tracking::track_click(store, &id, &item.product.id, Some(&actor), t)
            .await
            .map_err(|e| anyhow::anyhow!("demo click: {e}"))?;
        if outcome.counted {
            let signal = Signal::new(
                actor.clone(),
                item.product.id.clone(),
                InteractionKind::RecClick,
            )
            .at(t);
            interactions::record(store, &[signal]).await?;
            out.clicks += 1;
            clicks.push((id.clone(), item.product.id.clone()));
        }
    }
    Ok(clicks)
}

/// An order of one unit of `product_id` naming list `list_id` (placed now: order placement
/// attributes it to the list's day). False when the product ran out of stock.
async fn order(
    state: &AppState,
    user: &str,
    list_id: &str,
    product_id: &str,
) -> anyhow::Result<bool> {
    let address = OrderAddress {
        name: None,
        street: "100 Market Street".into(),
        city: "Austin".into(),
        state: "TX".into(),
        zip_code: "73301".into(),
        country: "US".into(),
    };
    let req = PlaceOrder {
        user_id: user.to_string(),
        billing_address: address.clone(),
        shipping_address: address,
        payment_method: "cash_on_delivery".into(),
        recommendation_source: Some("homepage".into()),
        recommendation_session_id: Some(list_id.to_string()),
        order_notes: None,
        idempotency_key: None,
    };
    let order_id = uuid::Uuid::new_v4().to_string();
    match orders::place_lines(
        state.store.as_ref(),
        req,
        &[(product_id.to_string(), 1)],
        &order_id,
    )
    .await
    {
        Ok(_) => Ok(true),
        Err(
            orders::OrderError::InsufficientStock { .. }
            | orders::OrderError::ProductUnavailable { .. },
        ) => Ok(false),
        Err(e) => Err(anyhow::anyhow!("demo order: {e}")),
    }
}
