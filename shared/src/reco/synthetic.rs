//! Deterministic synthetic order data with real co-purchase structure, for benches, examples
//! and load-shaped tests of the recommendation algorithms. Not used on any request path.
//!
//! Model: products are split into groups of `group_size` consecutive products (a bundle or a
//! narrow category: camera, lens, bag, memory card...). An order picks an anchor group by a
//! Zipf-like popularity over groups, a size from 1 to `max_basket` (small baskets most likely),
//! and then each line from the anchor group with probability `in_group`, otherwise from a
//! random group (noise), the product inside a group again by Zipf-like popularity. Lines may
//! repeat a product, as real orders with several lines of one product do.
//!
//! Randomness comes from `rand`'s `StdRng` seeded with [`OrderGenConfig::seed`]: the same config
//! gives the same orders with the locked `rand` version.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Shape of the generated orders. [`Default`] is the benchmark size: 50,000 orders over 10,000
/// products in 500 groups of 20.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderGenConfig {
    pub orders: usize,
    pub products: usize,
    /// Products per group; the last group may be smaller.
    pub group_size: usize,
    /// Largest basket (lines per order); sizes run from 1 to this, small sizes most likely.
    pub max_basket: usize,
    /// Probability that a line comes from the order's anchor group.
    pub in_group: f64,
    /// Zipf exponent of popularity (of groups, and of products within a group); 0 is uniform.
    pub zipf_exponent: f64,
    pub seed: u64,
}

impl Default for OrderGenConfig {
    fn default() -> Self {
        Self {
            orders: 50_000,
            products: 10_000,
            group_size: 20,
            max_basket: 8,
            in_group: 0.85,
            zipf_exponent: 1.0,
            seed: 42,
        }
    }
}

/// Samples ranks `0..n` with weight `1 / (rank + 1)^s` by binary search on cumulative weights.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n.max(1))
            .map(|r| {
                total += 1.0 / ((r + 1) as f64).powf(s);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}

/// Product id of product number `i`: `P000042`.
pub fn product_id(i: usize) -> String {
    format!("P{i:06}")
}

/// Orders as lists of product indices in `0..config.products`.
pub fn generate_order_indices(config: &OrderGenConfig) -> Vec<Vec<u32>> {
    let products = config.products.max(1);
    let group_size = config.group_size.clamp(1, products);
    let groups = products.div_ceil(group_size);
    let max_basket = config.max_basket.max(1);

    let group_pick = Zipf::new(groups, config.zipf_exponent);
    let in_group_pick = Zipf::new(group_size, config.zipf_exponent);
    // Basket size k in 1..=max_basket with weight 1/k: half the orders have 1-2 lines at 8.
    let size_pick = Zipf::new(max_basket, 1.0);
    let mut rng = StdRng::seed_from_u64(config.seed);

    let pick_in = |group: usize, rng: &mut StdRng| -> u32 {
        let start = group * group_size;
        let len = group_size.min(products - start);
        // Re-draw ranks beyond a short last group's end.
        let mut r = in_group_pick.sample(rng);
        while r >= len {
            r = in_group_pick.sample(rng);
        }
        (start + r) as u32
    };

    (0..config.orders)
        .map(|_| {
            let anchor = group_pick.sample(&mut rng);
            let size = size_pick.sample(&mut rng) + 1;
            (0..size)
                .map(|_| {
                    let group = if rng.random::<f64>() < config.in_group {
                        anchor
                    } else {
                        rng.random_range(0..groups)
                    };
                    pick_in(group, &mut rng)
                })
                .collect()
        })
        .collect()
}

/// Orders as lists of product ids ([`product_id`]), the shape the platform stores.
pub fn generate_orders(config: &OrderGenConfig) -> Vec<Vec<String>> {
    generate_order_indices(config)
        .into_iter()
        .map(|order| order.into_iter().map(|i| product_id(i as usize)).collect())
        .collect()
}

/// Shape of generated user-item interactions. [`Default`] is the benchmark size of the
/// recommendation engine: 100,000 interactions of 1,000 users over 1,700 items.
///
/// Model: items form groups of `group_size` consecutive items (tastes); each user has
/// `tastes_per_user` taste groups drawn by Zipf-like popularity over groups. The user of each
/// interaction is drawn by a Zipf-like activity over users (a power law: few heavy users, many
/// light ones), its item from one of the user's tastes with probability `in_taste` (the item
/// inside the group again by Zipf), otherwise from the whole catalogue by Zipf (popular items).
/// Kinds: a view (weight 1) 70%, a cart add (3) 20%, a purchase (5) 10%. Timestamps rise by
/// one per interaction from `start_timestamp`, so a time-based holdout takes each user's latest.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionGenConfig {
    pub interactions: usize,
    pub users: usize,
    pub items: usize,
    pub group_size: usize,
    pub tastes_per_user: usize,
    pub in_taste: f64,
    pub zipf_exponent: f64,
    pub start_timestamp: i64,
    pub seed: u64,
}

impl Default for InteractionGenConfig {
    fn default() -> Self {
        Self {
            interactions: 100_000,
            users: 1_000,
            items: 1_700,
            group_size: 17,
            tastes_per_user: 2,
            in_taste: 0.8,
            zipf_exponent: 1.0,
            start_timestamp: 1_700_000_000,
            seed: 42,
        }
    }
}

/// User id of user number `i`: `U000042`.
pub fn user_id(i: usize) -> String {
    format!("U{i:06}")
}

/// Interactions with user ids [`user_id`] and item ids [`product_id`] (see
/// [`InteractionGenConfig`]); the same config gives the same interactions.
pub fn generate_interactions(config: &InteractionGenConfig) -> Vec<super::data::Interaction> {
    let items = config.items.max(1);
    let users = config.users.max(1);
    let group_size = config.group_size.clamp(1, items);
    let groups = items.div_ceil(group_size);
    let mut rng = StdRng::seed_from_u64(config.seed);
    let group_pick = Zipf::new(groups, config.zipf_exponent);
    let in_group_pick = Zipf::new(group_size, config.zipf_exponent);
    let item_pick = Zipf::new(items, config.zipf_exponent);
    let user_pick = Zipf::new(users, config.zipf_exponent * 0.8);
    // Popularity ranks are shuffled so that heavy users and popular items are spread over ids.
    let mut user_order: Vec<usize> = (0..users).collect();
    let mut item_order: Vec<usize> = (0..items).collect();
    for v in [&mut user_order, &mut item_order] {
        for i in (1..v.len()).rev() {
            let j = rng.random_range(0..=i);
            v.swap(i, j);
        }
    }
    let tastes: Vec<Vec<usize>> = (0..users)
        .map(|_| {
            (0..config.tastes_per_user.max(1))
                .map(|_| group_pick.sample(&mut rng))
                .collect()
        })
        .collect();
    (0..config.interactions)
        .map(|n| {
            let u = user_pick.sample(&mut rng);
            let item = if rng.random::<f64>() < config.in_taste {
                let taste = &tastes[u];
                let g = taste[rng.random_range(0..taste.len())];
                let start = g * group_size;
                let len = group_size.min(items - start);
                let mut r = in_group_pick.sample(&mut rng);
                while r >= len {
                    r = in_group_pick.sample(&mut rng);
                }
                start + r
            } else {
                item_order[item_pick.sample(&mut rng)]
            };
            let kind: f64 = rng.random();
            let weight = if kind < 0.7 {
                1.0
            } else if kind < 0.9 {
                3.0
            } else {
                5.0
            };
            super::data::Interaction {
                user: user_id(user_order[u]),
                item: product_id(item),
                weight,
                timestamp: config.start_timestamp + n as i64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic_and_in_range() {
        let config = OrderGenConfig {
            orders: 500,
            products: 95,
            group_size: 10,
            ..Default::default()
        };
        let a = generate_order_indices(&config);
        assert_eq!(a, generate_order_indices(&config));
        assert_eq!(a.len(), 500);
        assert!(a.iter().all(|o| (1..=8).contains(&o.len())));
        assert!(a.iter().flatten().all(|&p| p < 95));
        let other = generate_order_indices(&OrderGenConfig { seed: 7, ..config });
        assert_ne!(a, other);
    }

    #[test]
    fn orders_mostly_stay_in_one_group() {
        let config = OrderGenConfig {
            orders: 2_000,
            ..Default::default()
        };
        let orders = generate_order_indices(&config);
        let (mut same, mut total) = (0usize, 0usize);
        for o in &orders {
            for w in o.windows(2) {
                total += 1;
                if w[0] / 20 == w[1] / 20 {
                    same += 1;
                }
            }
        }
        // Expected ~0.85² ≈ 0.72 plus chance; far above the 1/500 of independent picks.
        assert!(same * 10 > total * 6, "{same} of {total}");
        assert_eq!(product_id(42), "P000042");
    }

    #[test]
    fn interactions_are_deterministic_power_law_and_in_range() {
        let config = InteractionGenConfig {
            interactions: 5_000,
            users: 100,
            items: 170,
            ..InteractionGenConfig::default()
        };
        let a = generate_interactions(&config);
        assert_eq!(a, generate_interactions(&config));
        assert_eq!(a.len(), 5_000);
        let mut per_user = std::collections::HashMap::<&str, usize>::new();
        for it in &a {
            *per_user.entry(it.user.as_str()).or_default() += 1;
            assert!(it.item.as_str() < "P000170");
        }
        let mut counts: Vec<usize> = per_user.into_values().collect();
        counts.sort_unstable();
        // Heavy users: the most active has several times the median's interactions.
        assert!(counts[counts.len() - 1] > 4 * counts[counts.len() / 2]);
    }
}
