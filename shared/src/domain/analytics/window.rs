//! Which rollup items a window of days is read from: whole months from the month rollups, the
//! rest from day rollups, so a 365-day window reads 13 months and at most half a month of days
//! instead of 365 days.
//!
//! Every day rollup is mirrored into its month's rollup on write (the same `ADD`s), so a month
//! item is exactly the sum of its days. For each month the window touches, the plan takes the
//! cheaper of two exact ways:
//! - **the days**: `+` the window's days of that month;
//! - **the month**: `+` the month, `−` its days outside the window.
//!
//! A day after `today` costs a sixteenth of a past day in the choice: no record is dated in the
//! future, so its items are absent (a missing key: no decode locally; on DynamoDB still a key
//! of a batch get, charged as a read of the smallest item, so the month to date costs up to
//! ~200 such keys per rollup kind there). They are still subtracted, which keeps the figures
//! exact even after an import with future dates. So from its third day on, the
//! current month is read as its month items (month to date) rather than as its days: a month
//! item holds each counter once, where the days hold it once per day and shard (the dashboard
//! of a 7th of the month read 56 product day items with 11,000 attributes; the month's 8 items
//! hold each product sold once). Hand-written: a few lines of calendar arithmetic.

use chrono::{Datelike, Duration, NaiveDate};

/// The reads of one window, and their signs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// First days of the months read whole (added).
    pub months: Vec<NaiveDate>,
    /// Days added.
    pub add_days: Vec<NaiveDate>,
    /// Days subtracted (of months read whole).
    pub sub_days: Vec<NaiveDate>,
}

/// The first day of `day`'s month.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The last day of the month starting `first`.
pub fn month_end(first: NaiveDate) -> NaiveDate {
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    next.map_or(first, |n| n - Duration::days(1))
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// The plan of the `days` days ending with `today` (at least one).
pub fn plan(today: NaiveDate, days_back: u32) -> Plan {
    let start = today - Duration::days(i64::from(days_back.max(1)) - 1);
    let mut plan = Plan::default();
    let mut month = month_of(start);
    while month <= today {
        let end = month_end(month);
        let first_in = start.max(month);
        let last_in = today.min(end);
        let inside = (last_in - first_in).num_days() + 1;
        let before = (first_in - month).num_days();
        let after = (end - last_in).num_days();
        // In sixteenths of a day (see the module docs): the month item counts as one day.
        if 16 * inside <= 16 + 16 * before + after {
            plan.add_days.extend(days(first_in, last_in));
        } else {
            plan.months.push(month);
            plan.sub_days
                .extend(days(month, first_in - Duration::days(1)));
            plan.sub_days.extend(days(last_in + Duration::days(1), end));
        }
        month = end + Duration::days(1);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Every day of the window counted exactly once: (+ days) + (month days) − (− days).
    fn check(today: NaiveDate, n: u32) {
        let p = plan(today, n);
        let start = today - Duration::days(i64::from(n) - 1);
        let mut count: std::collections::BTreeMap<NaiveDate, i64> = Default::default();
        for &m in &p.months {
            for day in days(m, month_end(m)) {
                *count.entry(day).or_default() += 1;
            }
        }
        for &day in &p.add_days {
            *count.entry(day).or_default() += 1;
        }
        for &day in &p.sub_days {
            *count.entry(day).or_default() -= 1;
        }
        count.retain(|_, c| *c != 0);
        let expected: Vec<NaiveDate> = days(start, today).collect();
        assert_eq!(count.keys().copied().collect::<Vec<_>>(), expected);
        assert!(count.values().all(|c| *c == 1), "{today} {n}");
    }

    #[test]
    fn every_window_counts_each_of_its_days_once() {
        for today in days(d("2024-01-01"), d("2025-03-31")) {
            for n in [1, 2, 7, 15, 16, 28, 30, 31, 59, 90, 364, 365] {
                check(today, n);
            }
        }
    }

    #[test]
    fn a_year_reads_its_months_and_at_most_two_days() {
        // 2026-12-06 back to 2025-12-07: December 2025 from its month minus its first 6 days,
        // January to November whole, December 2026 to date (its month minus the 25 days after
        // today, absent items).
        let p = plan(d("2026-12-06"), 365);
        assert_eq!(p.months.len(), 13);
        assert_eq!(p.months.first(), Some(&d("2025-12-01")));
        assert!(p.add_days.is_empty());
        assert_eq!(p.sub_days.len(), 6 + 25);
        assert!(
            p.sub_days
                .iter()
                .all(|x| *x < d("2025-12-07") || *x > d("2026-12-06"))
        );
        // On the month's first two days, its days (1 or 2 day reads) are cheaper than the
        // month and its 29-30 absent days.
        let p = plan(d("2026-12-02"), 365);
        assert_eq!(p.months.len(), 12);
        assert_eq!(p.add_days, vec![d("2026-12-01"), d("2026-12-02")]);
        // 2026-12-20 back to 2025-12-21: December 2025 is 11 days, read as days; December
        // 2026 is its month minus the 11 days after today.
        let p = plan(d("2026-12-20"), 365);
        assert_eq!(p.months.len(), 12);
        assert_eq!(p.add_days.len(), 11);
        assert_eq!(p.sub_days.len(), 11);
        assert!(p.sub_days.iter().all(|x| *x > d("2026-12-20")));
    }

    #[test]
    fn short_windows_read_days() {
        let p = plan(d("2026-12-06"), 1);
        assert_eq!(p.add_days, vec![d("2026-12-06")]);
        assert!(p.months.is_empty() && p.sub_days.is_empty());
        // The week ending on the 6th: November's last day as a day, December to date.
        let p = plan(d("2026-12-06"), 7);
        assert_eq!(p.add_days, vec![d("2026-11-30")]);
        assert_eq!(p.months, vec![d("2026-12-01")]);
        let p = plan(d("2026-12-02"), 7);
        assert_eq!(p.add_days.len(), 7);
        assert!(p.months.is_empty());
        // The 30th of a 31-day month: the month minus one day in the past, one in the future.
        let p = plan(d("2026-12-30"), 29);
        assert_eq!(p.months, vec![d("2026-12-01")]);
        assert_eq!(p.sub_days, vec![d("2026-12-01"), d("2026-12-31")]);
    }

    #[test]
    fn month_ends() {
        assert_eq!(month_end(d("2024-02-01")), d("2024-02-29"));
        assert_eq!(month_end(d("2025-12-01")), d("2025-12-31"));
        assert_eq!(month_of(d("2025-12-17")), d("2025-12-01"));
    }
}
