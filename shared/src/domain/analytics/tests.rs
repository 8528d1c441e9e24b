#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn labels_and_weeks() {
    assert_eq!(source_label(None), "direct");
    assert_eq!(source_label(Some("  ")), "direct");
    assert_eq!(source_label(Some("Collaborative")), "collaborative");
    assert_eq!(source_label(Some("content-based!")), "contentbased");
    let d = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(); // a Sunday
    assert_eq!(ymd(week_of(d)), "2026-11-30");
    assert_eq!(
        week_of(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
    );
    assert_eq!(
        normalise_query("  iPhone   PRO "),
        Some("iphone pro".into())
    );
    assert_eq!(normalise_query(" ,, "), None);
    assert_eq!(
        day_of("2026-12-06T23:59:59.999Z"),
        NaiveDate::from_ymd_opt(2026, 12, 6)
    );
    assert_eq!(
        day_of("2026-12-06T23:30:00-02:00"),
        NaiveDate::from_ymd_opt(2026, 12, 7)
    );
    assert_eq!(day_of("yesterday"), None);
}

#[test]
fn trend_attributes_name_a_day_of_the_month_and_a_list_counter() {
    assert_eq!(attr::trend(5, attr::ORDERS), "t05_orders");
    assert_eq!(attr::parse_trend("t05_orders"), Some((5, "orders")));
    assert_eq!(attr::parse_trend("t31_f_view"), Some((31, "f_view")));
    // Not trend attributes: other counters, day 0 or 32, a missing separator.
    for name in [
        "orders",
        "st_pending",
        "t00_orders",
        "t32_orders",
        "t5_orders",
        "t05orders",
    ] {
        assert_eq!(attr::parse_trend(name), None, "{name}");
    }
    // The funnel's daily counters are among the list counters.
    for step in FUNNEL_STEPS {
        assert!(attr::TREND.contains(&attr::funnel(step).as_str()));
    }
    assert!(attr::TREND.contains(&attr::KEPT_REVENUE));
}

#[test]
fn moving_counters_are_statuses_pointers_and_activations() {
    for name in [
        "st_pending",
        "active_last",
        "f_view_last",
        "uq_last",
        "activated",
    ] {
        assert!(attr::is_moving(name), "{name}");
    }
    for name in [
        "orders",
        "f_view",
        "first_active",
        "kept_revenue_cents",
        "pay_card",
        "t05_orders",
    ] {
        assert!(!attr::is_moving(name), "{name}");
    }
}
