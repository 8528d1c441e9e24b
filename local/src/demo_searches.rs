//! Demo searches, consistent with the demo orders: before each order placed by this seeding,
//! its customer searched for a word of the first line's product name (15 to 45 minutes before)
//! and, two times in three, clicked a result; one order in six also has a misspelt search that
//! found nothing, and one in five an anonymous search. The logs carry the orders' past times, so
//! the analytics search figures spread over the same days as the orders. Seeding again logs
//! searches only for the orders it places (like the demo interactions).

use chrono::Duration;
use shared::{
    domain::catalog::{
        ProductRecord,
        search::{self, SearchLog},
    },
    store::ItemStore,
};

use crate::{demo_catalog::mix, demo_interactions::PlacedOrder};

const DEMO_SEARCH_SEED: u64 = 0x5EA2_C400;

fn log(order: &PlacedOrder, k: u64, query: String, user: bool, found: u64) -> SearchLog {
    let h = mix(DEMO_SEARCH_SEED ^ ((order.n as u64) << 4) ^ k);
    SearchLog {
        id: uuid::Uuid::new_v4().to_string(),
        query,
        user_id: user.then(|| order.user_id.clone()),
        result_count: found,
        latency_ms: 20 + h % 180,
        created_at: (order.at - Duration::minutes(15 + (h % 30) as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        clicks: 0,
    }
}

/// Logs the searches of the placed orders (see the module docs); returns how many.
pub async fn seed_searches(
    store: &dyn ItemStore,
    placed: &[PlacedOrder],
    all: &[ProductRecord],
) -> anyhow::Result<usize> {
    let mut count = 0;
    for order in placed {
        let Some(product) = order
            .product_ids
            .first()
            .and_then(|id| all.iter().find(|p| &p.id == id))
        else {
            continue;
        };
        let h = mix(DEMO_SEARCH_SEED ^ order.n as u64);
        let words = shared::text::words(&product.name);
        let Some(word) = words.get(h as usize % words.len().max(1)) else {
            continue;
        };
        let found = 1 + (h >> 8) % 24;
        let main = log(order, 1, word.clone(), true, found);
        search::log_search(store, &main).await?;
        if !(h >> 16).is_multiple_of(3) {
            search::track_click(store, &main.id, &product.id, 1 + ((h >> 20) % 5) as u32).await?;
        }
        count += 1;
        if (h >> 24).is_multiple_of(6) {
            search::log_search(store, &log(order, 2, format!("{word}zqx"), true, 0)).await?;
            count += 1;
        }
        if (h >> 28).is_multiple_of(5) {
            search::log_search(store, &log(order, 3, word.clone(), false, found)).await?;
            count += 1;
        }
    }
    Ok(count)
}
