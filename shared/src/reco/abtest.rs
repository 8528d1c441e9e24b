//! A/B experiments on recommendation configs, the pure part: which arm an actor is in, the
//! two-proportion z-test of an arm against the control, and the rule that names a winner.
//!
//! **Assignment.** An actor (user id or `guest:<cart id>`) falls in bucket
//! `xxh3_64(experiment id ‖ 0x1f ‖ actor key) mod 10,000`; the arms own consecutive ranges of
//! buckets as wide as their traffic shares in basis points (hundredths of a percent), in arm
//! order. The hash is a fixed, specified function (XXH3, seed 0), so every instance, every
//! deployment and every restart puts an actor in the same arm for the whole experiment without
//! storing anything; including the experiment id makes the arms of two experiments independent.
//! The modulo bias is below 10,000 / 2^64.
//!
//! **Significance.** The pooled two-proportion z-test (e.g. Agresti, *Statistical Methods for
//! the Social Sciences*, or any introductory text): with `x` successes in `n` trials per arm,
//! `p = (x₁ + x₂) / (n₁ + n₂)`, `z = (x₁/n₁ - x₂/n₂) / sqrt(p (1 - p) (1/n₁ + 1/n₂))`, and the
//! two-sided p-value `2 (1 - Φ(|z|)) = erfc(|z| / √2)`. `erfc` comes from `libm` (the musl
//! implementation, accurate to about 1 ulp), which is what keeps tiny p-values exact; no
//! statistics crate is in the tree. The figures are `f64` rather than the `f32` of the other
//! algorithms here because p-values go down to 1e-300 and rates are compared at 1e-4.
//! Impressions of one user are not independent trials, so the p-value is optimistic when a few
//! users see many lists; it is the usual approximation of dashboards and is documented as such.
//!
//! **Winner.** [`winner`]: among the arms whose conversion rate is above the control's with
//! p < [`ALPHA`], the one with the highest conversion rate; failing that, the same rule on the
//! click-through rate; failing both, the control (nothing was shown to be better).
//!
//! Hand-written: a hash, a cumulative sum and a closed formula; the one numeric routine (`erfc`)
//! is the library's.

use xxhash_rust::xxh3::xxh3_64;

/// Buckets of the assignment hash: shares are in basis points (1/100 of a percent).
pub const BASIS_POINTS: u32 = 10_000;

/// The significance level of [`winner`].
pub const ALPHA: f64 = 0.05;

/// The bucket (0..10,000) of an actor in an experiment.
pub fn bucket(experiment_id: &str, actor_key: &str) -> u32 {
    let mut bytes = Vec::with_capacity(experiment_id.len() + actor_key.len() + 1);
    bytes.extend_from_slice(experiment_id.as_bytes());
    bytes.push(0x1f);
    bytes.extend_from_slice(actor_key.as_bytes());
    (xxh3_64(&bytes) % u64::from(BASIS_POINTS)) as u32
}

/// The arm (index into `shares`) that owns `bucket`, arms owning consecutive ranges of their
/// share's width in order; `None` when the shares end before the bucket (they do not sum to
/// 10,000).
pub fn arm_of_bucket(shares_bp: &[u32], bucket: u32) -> Option<usize> {
    let mut end = 0u32;
    for (i, share) in shares_bp.iter().enumerate() {
        end = end.saturating_add(*share);
        if bucket < end {
            return Some(i);
        }
    }
    None
}

/// The arm of `actor_key` in `experiment_id` (see the module docs).
pub fn assign(experiment_id: &str, actor_key: &str, shares_bp: &[u32]) -> Option<usize> {
    arm_of_bucket(shares_bp, bucket(experiment_id, actor_key))
}

/// A traffic share in percent as basis points: finite, above 0, at most 100, with at most two
/// decimals (`33.33` is 3,333); `None` otherwise.
pub fn percent_to_basis_points(percent: f64) -> Option<u32> {
    if !percent.is_finite() || percent <= 0.0 || percent > 100.0 {
        return None;
    }
    let bp = percent * 100.0;
    let whole = bp.round();
    ((bp - whole).abs() < 1e-6).then_some(whole as u32)
}

/// A z-test's statistic and two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZTest {
    /// Positive when the first proportion is the larger.
    pub z: f64,
    pub p_value: f64,
}

/// The pooled two-proportion z-test of `x1 / n1` against `x2 / n2`; `None` when it is not
/// defined: an arm without trials, more successes than trials, or no variation at all (every
/// trial of both arms a success, or none: the pooled variance is 0).
pub fn two_proportion_z_test(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<ZTest> {
    if n1 == 0 || n2 == 0 || x1 > n1 || x2 > n2 {
        return None;
    }
    let (x1, n1, x2, n2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let pooled = (x1 + x2) / (n1 + n2);
    let variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2);
    if variance <= 0.0 || !variance.is_finite() {
        return None;
    }
    let z = (x1 / n1 - x2 / n2) / variance.sqrt();
    let p_value = libm::erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0);
    Some(ZTest { z, p_value })
}

/// What [`winner`] compares per arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArmFigures {
    pub impressions: u64,
    pub clicks: u64,
    pub conversions: u64,
}

/// The winning arm (an index into `arms`; see the module docs); `control` when it is out of
/// range too, so the answer is always an arm the caller has.
pub fn winner(arms: &[ArmFigures], control: usize) -> usize {
    let Some(c) = arms.get(control) else {
        return control;
    };
    let metrics: [fn(&ArmFigures) -> u64; 2] = [|a| a.conversions, |a| a.clicks];
    for successes in metrics {
        let mut best: Option<(usize, f64)> = None;
        for (i, arm) in arms.iter().enumerate() {
            if i == control {
                continue;
            }
            let Some(test) =
                two_proportion_z_test(successes(arm), arm.impressions, successes(c), c.impressions)
            else {
                continue;
            };
            if test.z > 0.0 && test.p_value < ALPHA {
                let rate = successes(arm) as f64 / arm.impressions as f64;
                if best.is_none_or(|(_, r)| rate > r) {
                    best = Some((i, rate));
                }
            }
        }
        if let Some((i, _)) = best {
            return i;
        }
    }
    control
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn buckets_are_stable_and_depend_on_the_experiment() {
        assert_eq!(bucket("exp-1", "user-42"), bucket("exp-1", "user-42"));
        assert!(bucket("exp-1", "user-42") < BASIS_POINTS);
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        let differs = (0..50)
            .filter(|i| bucket("exp-1", &format!("u{i}")) != bucket("exp-2", &format!("u{i}")))
            .count();
        assert!(differs > 45, "{differs}");
        assert_ne!(bucket("ab", "c"), bucket("a", "bc"));
    }

    #[test]
    fn ranges_follow_the_shares_in_order() {
        let shares = [5_000, 3_000, 2_000];
        assert_eq!(arm_of_bucket(&shares, 0), Some(0));
        assert_eq!(arm_of_bucket(&shares, 4_999), Some(0));
        assert_eq!(arm_of_bucket(&shares, 5_000), Some(1));
        assert_eq!(arm_of_bucket(&shares, 7_999), Some(1));
        assert_eq!(arm_of_bucket(&shares, 8_000), Some(2));
        assert_eq!(arm_of_bucket(&shares, 9_999), Some(2));
        assert_eq!(arm_of_bucket(&[5_000, 4_000], 9_500), None);
        assert_eq!(arm_of_bucket(&[], 0), None);
        assert_eq!(arm_of_bucket(&[u32::MAX, 1], 9_999), Some(0));
    }

    #[test]
    fn shares_are_respected_on_ten_thousand_keys_and_an_actor_stays_in_its_arm() {
        let shares = [5_000, 3_000, 2_000];
        let mut counts = [0u32; 3];
        for i in 0..10_000 {
            let key = format!("user-{i}");
            let arm = assign("exp-shares", &key, &shares).unwrap();
            counts[arm] += 1;
            // Same answer every time.
            assert_eq!(assign("exp-shares", &key, &shares), Some(arm));
        }
        // Binomial standard deviation on 10,000 draws is at most 50: allow 4 of them.
        for (count, share) in counts.iter().zip(shares) {
            assert!(count.abs_diff(share) <= 200, "{counts:?}");
        }
        let guests = (0..10_000)
            .filter(|i| assign("exp-shares", &format!("guest:{i}"), &[1_000, 9_000]) == Some(0))
            .count();
        assert!((800..=1_200).contains(&guests), "{guests}");
    }

    #[test]
    fn percentages_become_basis_points() {
        assert_eq!(percent_to_basis_points(50.0), Some(5_000));
        assert_eq!(percent_to_basis_points(33.33), Some(3_333));
        assert_eq!(percent_to_basis_points(0.01), Some(1));
        assert_eq!(percent_to_basis_points(100.0), Some(10_000));
        for bad in [0.0, -5.0, 100.5, 33.333, f64::NAN, f64::INFINITY] {
            assert_eq!(percent_to_basis_points(bad), None, "{bad}");
        }
    }

    /// 200/1000 against 250/1000: pooled p = 450/2000 = 0.225,
    /// se = sqrt(0.225 * 0.775 * (1/1000 + 1/1000)) = sqrt(0.00034875) = 0.0186748,
    /// z = (0.2 - 0.25) / 0.0186748 = -2.67740, p = 2 (1 - Φ(2.6774)) = 0.0074196.
    #[test]
    fn z_test_matches_hand_computed_figures() {
        let t = two_proportion_z_test(200, 1000, 250, 1000).unwrap();
        assert!(close(t.z, -2.677_40, 1e-5), "{t:?}");
        assert!(close(t.p_value, 0.007_419_6, 1e-7), "{t:?}");
        // Symmetric.
        let u = two_proportion_z_test(250, 1000, 200, 1000).unwrap();
        assert!(close(u.z, 2.677_40, 1e-5) && close(u.p_value, t.p_value, 1e-15));

        // 45/500 against 30/500: p = 0.075, se = sqrt(0.075 * 0.925 * 0.004) = 0.016658,
        // z = 0.03 / 0.016658 = 1.80090, p = 0.071719 (not significant at 5 %).
        let t = two_proportion_z_test(45, 500, 30, 500).unwrap();
        assert!(close(t.z, 1.800_90, 1e-5) && close(t.p_value, 0.071_719, 1e-6));

        // Equal rates: z = 0, p = 1.
        let t = two_proportion_z_test(10, 100, 10, 100).unwrap();
        assert_eq!(t.z, 0.0);
        assert!(close(t.p_value, 1.0, 1e-12));

        // |z| = 1.959964 is the two-sided 5 % point.
        let z = 1.959_963_984_540_054_f64;
        assert!(close(libm::erfc(z / std::f64::consts::SQRT_2), 0.05, 1e-12));
    }

    #[test]
    fn z_test_is_undefined_without_trials_or_variation() {
        assert_eq!(two_proportion_z_test(0, 0, 5, 10), None);
        assert_eq!(two_proportion_z_test(5, 10, 0, 0), None);
        assert_eq!(two_proportion_z_test(0, 10, 0, 20), None);
        assert_eq!(two_proportion_z_test(10, 10, 20, 20), None);
        assert_eq!(two_proportion_z_test(11, 10, 5, 10), None);
        // Huge differences stay in [0, 1].
        let t = two_proportion_z_test(900_000, 1_000_000, 100_000, 1_000_000).unwrap();
        assert!(t.p_value >= 0.0 && t.p_value < 1e-300, "{t:?}");
    }

    fn arm(impressions: u64, clicks: u64, conversions: u64) -> ArmFigures {
        ArmFigures {
            impressions,
            clicks,
            conversions,
        }
    }

    #[test]
    fn the_winner_is_significantly_better_than_the_control_or_the_control() {
        // Conversions decide first: arm 2 converts significantly better (60 vs 30 of 1000).
        let arms = [arm(1000, 100, 30), arm(1000, 200, 35), arm(1000, 100, 60)];
        assert_eq!(winner(&arms, 0), 2);
        // No conversion difference: clicks decide (200 vs 100 of 1000 is significant).
        let arms = [arm(1000, 100, 30), arm(1000, 200, 31), arm(1000, 110, 29)];
        assert_eq!(winner(&arms, 0), 1);
        // Better but not significantly (45 vs 30 of 500, p = 0.072): the control.
        let arms = [arm(500, 30, 0), arm(500, 45, 0)];
        assert_eq!(winner(&arms, 0), 0);
        // Significantly worse: the control.
        let arms = [arm(1000, 250, 0), arm(1000, 200, 0)];
        assert_eq!(winner(&arms, 0), 0);
        // The control need not be first.
        let arms = [arm(1000, 250, 0), arm(1000, 200, 0)];
        assert_eq!(winner(&arms, 1), 0);
        // No data, or a control index out of range.
        assert_eq!(winner(&[arm(0, 0, 0), arm(0, 0, 0)], 0), 0);
        assert_eq!(winner(&[arm(10, 1, 0)], 5), 5);
    }
}
