//! Demo data for `local serve --demo`: deterministic, idempotent and additive. Seeding again
//! only adds what is missing: it never deletes or overwrites what a user wrote (carts, orders,
//! likes, profile changes, passwords, the admin's included).
//!
//! The demo admin uses the credentials spec 002 documents. It exists only here: the
//! configuration refuses demo mode with cloud backends, and the cloud's first admin comes from
//! `local bootstrap-admin` with a password taken from a secret.
//!
//! The demo customers sign up over the last [`SIGNUP_SPREAD_DAYS`] days, their orders (with
//! their searches and browsing) fall between their sign-up and now, and older orders have moved
//! on (confirmed, shipped, delivered, a few cancelled), so the analytics dashboard, funnel and
//! cohorts look like a running shop's; the analytics rollups are rebuilt from those records at
//! the end of a seeding that added anything (`analytics-rebuild`).

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
/// Demo customers sign up within this many days before the seeding.
pub const SIGNUP_SPREAD_DAYS: i64 = 89;

/// When demo customer `i` signed up: spread over the last [`SIGNUP_SPREAD_DAYS`] days (at
/// least two hours ago), fixed by `i`.
pub fn signup_time(now: chrono::DateTime<chrono::Utc>, i: usize) -> chrono::DateTime<chrono::Utc> {
    let h = crate::demo_catalog::mix(0x5167_0095 ^ i as u64);
    let span = SIGNUP_SPREAD_DAYS * 24 * 3600 - 2 * 3600;
    now - chrono::Duration::seconds(2 * 3600 + (h % span as u64) as i64)
}

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

/// (username, first name, last name, role, address, `created_at`; `None`: now).
type Person = (
    String,
    String,
    String,
    Role,
    Option<Address>,
    Option<String>,
);

/// Seeds the admin, one manager and `customers` customers; accounts that exist are left as they
/// are (a changed password or profile stays changed).
pub async fn seed(state: &AppState, customers: usize) -> anyhow::Result<Seeded> {
    let store = state.store.as_ref();
    let mut out = Seeded::default();
    if users::find_by_login(store, ADMIN_EMAIL).await?.is_some() {
        out.existing += 1;
    } else {
        users::ensure_admin(
            store,
            ADMIN_EMAIL,
            ADMIN_USERNAME,
            hash_password(ADMIN_PASSWORD).await?,
        )
        .await?;
        out.created += 1;
    }
    let demo_hash = hash_password(DEMO_PASSWORD).await?;
    let now = chrono::Utc::now();
    let mut people: Vec<Person> = vec![(
        "manager".into(),
        "Morgan".into(),
        "Manager".into(),
        Role::Manager,
        None,
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
            Some(signup_time(now, i).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        ));
    }
    for (username, first, last, role, address, created_at) in people {
        let result = users::create_with_id(
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
            uuid::Uuid::new_v4().to_string(),
            created_at,
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

/// Whether `reco-train` has run on this store before (a run record of the popularity model,
/// which every training includes, completed or skipped).
async fn trained_before(state: &AppState) -> anyhow::Result<bool> {
    use shared::domain::ml_models::{ModelType, configs, runs};
    let id = configs::default_id(ModelType::Popularity);
    Ok(!runs::of_config(state.store.as_ref(), &id, 1)
        .await?
        .is_empty())
}

/// How much demo data to seed (the `serve --demo-*` options).
#[derive(Debug, Clone, Copy)]
pub struct DemoSizes {
    pub products: usize,
    pub customers: usize,
    pub orders: usize,
    pub teachers: usize,
    pub videos: usize,
    /// Homepage sessions a day of simulated recommendation traffic (0: none).
    pub rec_sessions: usize,
}

/// Seeds every demo data set in order (accounts, catalog, orders and their rules, teachers and
/// the classifier, videos) and logs a summary. Additive: see the module documentation.
pub async fn seed_all(state: &AppState, sizes: DemoSizes) -> anyhow::Result<()> {
    let seeded = seed(state, sizes.customers).await?;
    let catalog = crate::demo_catalog::seed_catalog(state, sizes.products).await?;
    let orders = crate::demo_orders::seed_orders(state, sizes.orders, sizes.customers).await?;
    let fbt = jobs_fn::run(state, &jobs_fn::JobEvent::named(jobs_fn::Job::FbtRules)).await?;
    let classroom = crate::demo_classroom::seed_teachers(state, sizes.teachers).await?;
    let videos = crate::demo_videos::seed_videos(state, sizes.videos, sizes.customers).await?;
    // Last, after everything that records interactions: every model gets a version and metrics.
    // A restart on seeded data that recorded nothing new keeps the models in force (a model the
    // first run skipped for lack of data would be skipped again).
    let recorded = orders.interactions + videos.interactions;
    let reco = if recorded > 0 || !trained_before(state).await? {
        jobs_fn::run(state, &jobs_fn::JobEvent::named(jobs_fn::Job::RecoTrain)).await?
    } else {
        serde_json::json!({"report": {"training_id": "skipped: nothing new since the last training"}})
    };
    // A few days of simulated recommendation traffic and a finished A/B experiment (needs the
    // models just trained).
    let traffic = if sizes.rec_sessions > 0 {
        crate::demo_rec_traffic::seed_rec_traffic(state, sizes.customers, sizes.rec_sessions, 42)
            .await?
    } else {
        crate::demo_rec_traffic::RecTraffic::default()
    };
    // User segments: demographics, interests and devices, the spec's example segments,
    // generate-rfm and the refresh job (after the orders and interactions they read).
    let segments = crate::demo_segments::seed_segments(state, sizes.customers).await?;
    tracing::info!(
        segments_created = segments.segments_created,
        rfm_segments = segments.rfm_segments,
        segment_members = segments.refreshed_members,
        "demo segments seeded"
    );
    // Demo banners for the best, the worst and the second-best RFM clusters (after generate-rfm).
    let banners = crate::demo_promotions::seed_banners(state).await?;
    tracing::info!(
        created = banners.created,
        published = banners.published,
        "demo banners seeded"
    );
    // Last: the analytics rollups from every record seeded (accounts, orders, searches, the
    // browsing log), when this seeding added any.
    if seeded.created > 0 || orders.placed > 0 || traffic.orders > 0 {
        jobs_fn::run(
            state,
            &jobs_fn::JobEvent::named(jobs_fn::Job::AnalyticsRebuild),
        )
        .await?;
    }
    tracing::info!(
        created = seeded.created,
        existing = seeded.existing,
        categories = catalog.categories,
        products = catalog.products,
        existing_products = catalog.existing,
        orders = orders.placed,
        existing_orders = orders.existing,
        skipped_orders = orders.skipped,
        fbt_rules = %fbt["report"]["rules"],
        teachers = classroom.teachers,
        existing_teachers = classroom.existing,
        clusters = %classroom.distribution,
        classifier = %classroom.classifier_version,
        videos = videos.videos,
        existing_videos = videos.existing,
        video_likes = videos.likes,
        video_saves = videos.saves,
        trending_videos = videos.trending,
        interactions = orders.interactions + videos.interactions,
        reco_training = %reco["report"]["training_id"],
        recommendation_lists = traffic.lists,
        recommendation_clicks = traffic.clicks,
        recommendation_orders = traffic.orders,
        experiment_winner = ?traffic.winner,
        "demo data seeded"
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use shared::{
        domain::{
            cart::{self, CartOwner},
            catalog, orders,
            videos::interactions::{self, Toggle},
            viewed,
        },
        store::keys,
    };

    use super::*;

    const SMALL: DemoSizes = DemoSizes {
        products: 48,
        customers: 4,
        orders: 30,
        teachers: 0,
        videos: 2,
        rec_sessions: 0,
    };

    #[tokio::test]
    async fn seeding_again_keeps_everything_users_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        let store = state.store.as_ref();
        seed_all(&state, SMALL).await.unwrap();

        // A demo customer fills a cart, edits the profile, changes password, orders, likes and
        // clears the viewed history; the admin changes password.
        let customer = users::find_by_login(store, "customer001")
            .await
            .unwrap()
            .unwrap();
        let owner = CartOwner::User(customer.id.clone());
        let products = catalog::list_all_products(store).await.unwrap();
        let in_stock: Vec<_> = products.iter().filter(|p| p.available()).collect();
        cart::add(store, &owner, &in_stock[0].id, 2).await.unwrap();
        cart::add(store, &owner, &in_stock[1].id, 1).await.unwrap();
        users::update(store, &customer.id, |u| {
            u.first_name = "Changed".into();
            u.password_hash = "customer's own hash".into();
            true
        })
        .await
        .unwrap();
        viewed::clear(store, &customer.id).await.unwrap();
        let admin = users::find_by_login(store, ADMIN_EMAIL)
            .await
            .unwrap()
            .unwrap();
        users::update(store, &admin.id, |u| {
            u.password_hash = "admin's own hash".into();
            true
        })
        .await
        .unwrap();
        let video = crate::demo_videos::demo_video_id(0);
        let liked_before = interactions::toggle(store, Toggle::Like, &customer.id, &video)
            .await
            .unwrap();
        let (_, orders_before) = orders::list_all(store, None, 1, 1).await.unwrap();
        let cart_before = cart::lines(store, &owner).await.unwrap();
        assert_eq!(cart_before.len(), 2);

        // A later start asks for more orders: some are for this customer (every 4th).
        let more = DemoSizes {
            orders: SMALL.orders + 8,
            ..SMALL
        };
        seed_all(&state, more).await.unwrap();

        let cart_after = cart::lines(store, &owner).await.unwrap();
        assert_eq!(
            cart_after
                .iter()
                .map(|l| (&l.product_id, l.quantity))
                .collect::<Vec<_>>(),
            cart_before
                .iter()
                .map(|l| (&l.product_id, l.quantity))
                .collect::<Vec<_>>(),
            "the cart survives seeding"
        );
        let again = users::get(store, &customer.id).await.unwrap().unwrap();
        assert_eq!(again.first_name, "Changed");
        assert_eq!(again.password_hash, "customer's own hash");
        let admin_again = users::get(store, &admin.id).await.unwrap().unwrap();
        assert_eq!(admin_again.password_hash, "admin's own hash");
        assert!(viewed::list(store, &customer.id).await.unwrap().is_empty());
        let (_, orders_after) = orders::list_all(store, None, 1, 1).await.unwrap();
        assert_eq!(orders_before, SMALL.orders);
        assert_eq!(
            orders_after, more.orders,
            "only the missing orders are added"
        );
        let liked = store
            .get(&keys::video_like(&customer.id, &video))
            .await
            .unwrap()
            .is_some();
        assert_eq!(liked, liked_before.active, "the like (or unlike) stays");
    }

    #[tokio::test]
    async fn nothing_is_answered_before_the_seed_is_done() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let mut config = shared::config::Config::for_tests(dir.path().to_path_buf());
        config.demo_mode = true;
        let prepared = crate::prepare("127.0.0.1:0".parse().unwrap(), config, false)
            .await
            .unwrap();
        let addr = prepared.addr;
        assert_ne!(addr.port(), 0);
        assert_eq!(
            prepared.state.config.public_base_url,
            format!("http://{addr}")
        );
        seed(&prepared.state, 1).await.unwrap();
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "connections are refused while seeding"
        );
        let running = prepared.serve().await.unwrap();
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        running.handle.abort();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod reco_tests {
    use shared::domain::ml_models::{runs, training};
    use shared::reco::model::ModelKind;

    use super::*;

    /// `serve --demo` runs `reco-train` once after seeding: every trainable model has a run
    /// record, and the lock is released.
    #[tokio::test]
    async fn seeding_runs_the_training_job_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        let sizes = DemoSizes {
            products: 24,
            customers: 3,
            orders: 10,
            teachers: 0,
            videos: 0,
            rec_sessions: 60,
        };
        seed_all(&state, sizes).await.unwrap();
        let store = state.store.as_ref();
        for kind in training::all_trainable() {
            let Some(t) = shared::domain::ml_models::ModelType::of_kind(kind) else {
                continue;
            };
            let id = shared::domain::ml_models::configs::default_id(t);
            let history = runs::of_config(store, &id, 10).await.unwrap();
            assert_eq!(history.len(), 1, "{kind}");
        }
        let fbt = runs::of_config(store, "default-fbt", 1).await.unwrap();
        assert_eq!(fbt[0].status, runs::RunStatus::Completed);
        assert!(
            training::pointer(store, ModelKind::Kmeans)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .get(&shared::store::keys::training_lock())
                .await
                .unwrap()
                .is_none()
        );
        // The simulated recommendation traffic: lists, clicks and conversions on the days they
        // were served, and a stopped experiment whose arms counted them.
        use shared::domain::{experiments, rec_tracking};
        let today = chrono::Utc::now().date_naive();
        let perf = rec_tracking::performance(store, &rec_tracking::OWN_FAMILIES, today, 7, 10)
            .await
            .unwrap();
        assert!(perf.totals.impressions > 0, "{:?}", perf.totals);
        assert!(perf.totals.clicks > 0, "{:?}", perf.totals);
        let days_with_lists = perf
            .by_day
            .iter()
            .filter(|(_, c)| c.impressions > 0)
            .count();
        // On this tiny catalog (24 products, 3 customers) the shoppers soon have bought or run
        // out of stock of what they could be shown, so later days may serve nothing.
        assert!(days_with_lists >= 1, "{:?}", perf.by_day);
        assert!(
            perf.by_day
                .iter()
                .all(|(d, c)| c.impressions == 0 || *d < today)
        );
        let demo = experiments::list(store)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.name == crate::demo_rec_traffic::EXPERIMENT_NAME)
            .expect("the demo experiment");
        assert_eq!(demo.status, experiments::ExperimentStatus::Stopped);
        assert!(demo.winner.is_some());
        let results = experiments::results(store, &demo).await.unwrap();
        let shown: u64 = results.arms.iter().map(|a| a.impressions).sum();
        assert_eq!(shown as i64, perf.totals.impressions);
        // Each shopper counted at most once, in one arm (3 customers).
        let users: u64 = results.arms.iter().map(|a| a.users).sum();
        assert!((1..=3).contains(&users), "{users}");
        // A restart that seeds nothing new (every model has a version) does not train again.
        seed_all(&state, sizes).await.unwrap();
        let again = runs::of_config(store, "default-fbt", 10).await.unwrap();
        assert_eq!(again.len(), 1, "no second training");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod analytics_tests {
    use shared::domain::analytics::report;

    use super::*;

    /// The demo shop's analytics spread over the last 90 days: orders, sign-ups, searches and
    /// funnel users on many days, cohorts in many weeks, older orders moved on.
    #[tokio::test]
    async fn demo_analytics_spread_over_the_last_90_days() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        let sizes = DemoSizes {
            products: 48,
            customers: 30,
            orders: 200,
            teachers: 0,
            videos: 0,
            rec_sessions: 0,
        };
        seed_all(&state, sizes).await.unwrap();
        let store = state.store.as_ref();
        let today = chrono::Utc::now().date_naive();
        let d = report::dashboard(store, &Default::default(), today, 90)
            .await
            .unwrap();
        assert_eq!(d.orders.total_orders, 200, "{:?}", d.orders);
        let days_with_orders = d.orders.daily_trend.iter().filter(|t| t.orders > 0).count();
        assert!(days_with_orders > 30, "{days_with_orders}");
        assert!(
            d.orders.status_breakdown["delivered"] > 50,
            "{:?}",
            d.orders.status_breakdown
        );
        assert!(d.orders.status_breakdown["cancelled"] > 0);
        // The 30 customers, the admin and the manager (both created now).
        assert_eq!(d.users.new_users, 32);
        assert!(d.users.active_users >= 30);
        assert!(d.search.total_searches >= 200, "{:?}", d.search);
        assert!(d.search.zero_result_rate > 0.0 && d.search.click_through_rate > 0.0);
        assert!(!d.products.top_products.is_empty());
        let week = report::dashboard(store, &Default::default(), today, 7)
            .await
            .unwrap();
        assert!(week.orders.total_orders < 200, "not all today");
        let f = report::funnel(store, &Default::default(), today, 90)
            .await
            .unwrap();
        assert!(f.steps.iter().all(|s| s.users > 0), "{:?}", f.steps);
        let c = report::cohorts(store, today, 13).await.unwrap();
        let cohorts = c.cohorts.iter().filter(|c| c.users > 0).count();
        assert!(cohorts >= 8, "{:?}", c.cohorts);
    }
}
