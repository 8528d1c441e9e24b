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
}
