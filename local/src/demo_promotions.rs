//! Demo banners: three published banners for different RFM segments (after generate-rfm), so
//! `user-banners` differs between customers: "VIP early access" for the best cluster (highest
//! R + F + M scores, the Champions of the demo), "We miss you" for the worst (the Lost ones), and
//! a third for the second-best cluster. Each is drawn by the configured image model (the local
//! renderer offline) with a product's name and price on it, and published with priority 8.
//!
//! Additive: the demo banners have fixed ids ([`demo_id`]) and are made once; a later seeding
//! re-publishes them at the clusters of the new generate-rfm run (each run renumbers the
//! clusters), unless someone unpublished or re-published one by hand, which is left as it is.

use serde_json::Value;
use shared::{
    AppState,
    domain::{
        catalog,
        promotions::{
            audience,
            copy::AspectRatio,
            generate::{self, BannerInputs},
            records::{self, Publication, Targeting},
        },
    },
};

/// `created_by` of the demo banners.
pub const DEMO_AUTHOR: &str = "demo";

/// What was seeded.
#[derive(Debug, Default)]
pub struct BannersSeeded {
    pub created: usize,
    pub published: usize,
    /// (banner id, cluster id) of each demo banner, best cluster first.
    pub targets: Vec<(String, u32)>,
}

const BANNERS: [&str; 3] = [
    "VIP early access: premium picks for our best customers",
    "We miss you! Come back for something new",
    "Thanks for coming back: favourites picked for you",
];

/// Seeds the demo banners (see the module docs); nothing when there are no RFM clusters.
pub async fn seed_banners(state: &AppState) -> anyhow::Result<BannersSeeded> {
    let store = state.store.as_ref();
    let mut out = BannersSeeded::default();
    let mut clusters: Vec<(u32, f64)> = audience::rfm_clusters(store)
        .await?
        .into_iter()
        .map(|(id, s)| {
            let score = s
                .rfm_cluster
                .as_ref()
                .and_then(|c| c.get("scores"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_f64).sum())
                .unwrap_or(0.0);
            (id, score)
        })
        .collect();
    if clusters.len() < 3 {
        tracing::info!(
            clusters = clusters.len(),
            "demo: too few RFM clusters for the demo banners"
        );
        return Ok(out);
    }
    clusters.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let best = clusters[0].0;
    let worst = clusters[clusters.len() - 1].0;
    let second = clusters[1].0;
    let targets = [best, worst, second];

    let products: Vec<_> = catalog::list_all_products(store)
        .await?
        .into_iter()
        .filter(|p| p.is_active)
        .take(3)
        .collect();
    for (i, (prompt, cluster)) in BANNERS.iter().zip(targets).enumerate() {
        let id = demo_id(i);
        match records::get(store, &id).await? {
            // Unpublished or re-targeted by hand: left as it is.
            Some(b) if !b.is_published || b.published_by.as_deref() != Some(DEMO_AUTHOR) => {
                continue;
            }
            Some(_) => {}
            None => {
                let product = match products.get(i) {
                    Some(p) => Some(generate::product_facts(store, p).await?),
                    None => None,
                };
                let inputs = BannerInputs {
                    id: Some(id.clone()),
                    prompt: (*prompt).to_string(),
                    aspect_ratio: AspectRatio::Landscape16x9,
                    product,
                    user_id: None,
                    promotion_id: None,
                    author: DEMO_AUTHOR.into(),
                };
                let (banner, _) = generate::generate_banner(
                    store,
                    state.blobs.as_ref(),
                    state.images.as_ref(),
                    &inputs,
                )
                .await?;
                out.created += 1;
                debug_assert_eq!(banner.id, id);
            }
        }
        let publication = Publication {
            target_audience: Targeting {
                cluster_ids: vec![cluster],
                ..Default::default()
            },
            start_date: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
            end_date: None,
            priority: 8,
            by: DEMO_AUTHOR.into(),
        };
        records::publish(store, &id, publication).await?;
        out.published += 1;
        out.targets.push((id, cluster));
    }
    Ok(out)
}

/// The id of demo banner `i`.
pub fn demo_id(i: usize) -> String {
    format!("banner_demo_{i}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use shared::domain::promotions::{cache::LiveBannerCache, targeting};
    use shared::domain::segments::{membership, records as segments};

    /// A member of RFM cluster `cluster`.
    async fn member(state: &AppState, cluster: u32) -> String {
        let store = state.store.as_ref();
        let (_, s) = audience::rfm_clusters(store)
            .await
            .unwrap()
            .into_iter()
            .find(|(c, _)| *c == cluster)
            .unwrap();
        let s = segments::get(store, &s.id).await.unwrap().unwrap();
        membership::members_page(store, &s, 0, 1).await.unwrap()[0]
            .user_id
            .clone()
    }

    async fn live(state: &AppState, user: &str) -> Vec<String> {
        let store = state.store.as_ref();
        let facts = audience::user_facts(store, user).await.unwrap().unwrap();
        let snapshot = LiveBannerCache::default().get(store).await.unwrap();
        targeting::select(
            &snapshot.banners,
            &facts,
            chrono::Utc::now().timestamp(),
            10,
        )
        .iter()
        .map(|b| b.banner.id.clone())
        .collect()
    }

    #[tokio::test]
    async fn the_best_and_worst_customers_see_different_demo_banners() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        crate::demo::seed(&state, 30).await.unwrap();
        crate::demo_catalog::seed_catalog(&state, 30).await.unwrap();
        crate::demo_orders::seed_orders(&state, 120, 30)
            .await
            .unwrap();
        crate::demo_segments::seed_segments(&state, 30)
            .await
            .unwrap();
        let first = seed_banners(&state).await.unwrap();
        assert_eq!((first.created, first.published), (3, 3));
        let (best, worst) = (first.targets[0].1, first.targets[1].1);
        assert_ne!(best, worst);
        let champion = member(&state, best).await;
        let lost = member(&state, worst).await;
        assert_eq!(live(&state, &champion).await, [demo_id(0)]);
        assert_eq!(live(&state, &lost).await, [demo_id(1)]);
        // The images are in the media bucket, with the product's facts in the prompt.
        let b = records::get(state.store.as_ref(), &demo_id(0))
            .await
            .unwrap()
            .unwrap();
        assert!(state.blobs.head(&b.saved_path).await.unwrap().is_some());
        assert!(b.image_prompt.starts_with("Product: "));
        // Again: nothing new; a banner unpublished by hand stays unpublished.
        records::unpublish(state.store.as_ref(), &demo_id(2))
            .await
            .unwrap();
        let again = seed_banners(&state).await.unwrap();
        assert_eq!((again.created, again.published), (0, 2));
        assert!(
            !records::get(state.store.as_ref(), &demo_id(2))
                .await
                .unwrap()
                .unwrap()
                .is_published
        );
    }
}
