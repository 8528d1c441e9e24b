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
