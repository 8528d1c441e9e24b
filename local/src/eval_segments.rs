//! `local eval segments --orders ORDERS.csv --k 5 [--lookback-days N] [--seed S]`: RFM k-means
//! on a CSV of orders (`customer_id,date,amount`; header row optional; `date` RFC 3339 or
//! `YYYY-MM-DD`, `amount` in currency units), the same clustering generate-rfm runs
//! ([`shared::domain::segments::rfm::cluster_orders`]). "Now" is the latest order date, so an
//! old file is evaluated as of its own end. Prints one JSON object: cluster sizes, names,
//! scores and ranges, inertia, silhouette (on a seeded sample of 2,000 customers), and times.
//! `--synthetic CUSTOMERS,ORDERS` instead of `--orders` uses the seeded synthetic population
//! of the benchmark.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use shared::domain::segments::rfm::{RfmRequest, cluster_orders};
use shared::reco::rfm::{OrderFact, silhouette, synthetic_orders};

/// Customers the silhouette is computed on (it is quadratic).
pub const SILHOUETTE_SAMPLE: usize = 2000;

#[derive(Debug, Args)]
pub struct SegmentsArgs {
    /// Orders: CSV `customer_id,date,amount`.
    #[arg(long, conflicts_with = "synthetic")]
    pub orders: Option<PathBuf>,
    /// `CUSTOMERS,ORDERS`: a seeded synthetic population instead of a file.
    #[arg(long)]
    pub synthetic: Option<String>,
    /// Clusters, 2-12.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Window of orders, days before the latest one.
    #[arg(long, default_value_t = 365)]
    pub lookback_days: u32,
    /// k-means seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

fn parse_date(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp())
        })
}

/// Reads the orders CSV.
pub fn read_orders(path: &Path) -> anyhow::Result<Vec<OrderFact>> {
    let name = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let mut out = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{name}: unreadable CSV"))?;
        let field = |i: usize| record.get(i).unwrap_or("").trim_start_matches('\u{feff}');
        if n == 0 && field(0).eq_ignore_ascii_case("customer_id") {
            continue;
        }
        let line = n + 1;
        let at = parse_date(field(1))
            .with_context(|| format!("{name}: line {line}: bad date {:?}", field(1)))?;
        let amount: f64 = field(2)
            .parse()
            .ok()
            .filter(|a: &f64| a.is_finite() && *a >= 0.0)
            .with_context(|| format!("{name}: line {line}: bad amount {:?}", field(2)))?;
        if field(0).is_empty() {
            anyhow::bail!("{name}: line {line}: empty customer_id");
        }
        out.push(OrderFact {
            customer: field(0).to_string(),
            at,
            cents: (amount * 100.0).round() as i64,
        });
    }
    Ok(out)
}

/// Runs the evaluation and returns its report.
pub fn evaluate(args: &SegmentsArgs) -> anyhow::Result<serde_json::Value> {
    if !(2..=12).contains(&args.k) {
        anyhow::bail!("--k must be from 2 to 12");
    }
    let t = Instant::now();
    let orders = match (&args.orders, &args.synthetic) {
        (Some(p), _) => read_orders(p)?,
        (None, Some(spec)) => {
            let (c, o) = spec
                .split_once(',')
                .and_then(|(c, o)| Some((c.trim().parse().ok()?, o.trim().parse().ok()?)))
                .context("--synthetic takes CUSTOMERS,ORDERS")?;
            synthetic_orders(c, o, chrono::Utc::now().timestamp(), args.seed)
        }
        (None, None) => anyhow::bail!("--orders FILE or --synthetic CUSTOMERS,ORDERS"),
    };
    let read_ms = t.elapsed().as_secs_f64() * 1000.0;
    let now = orders.iter().map(|o| o.at).max().unwrap_or(0);
    let req = RfmRequest {
        n_clusters: args.k,
        lookback_days: args.lookback_days,
        seed: args.seed,
        ..RfmRequest::default()
    };
    let t = Instant::now();
    let (rows, seg) = cluster_orders(&orders, now, &req).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cluster_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let sil = silhouette(
        &seg.scaled,
        &seg.assignments,
        args.k,
        SILHOUETTE_SAMPLE,
        args.seed,
    );
    let silhouette_ms = t.elapsed().as_secs_f64() * 1000.0;
    Ok(json!({
        "orders": orders.len(),
        "customers": rows.len(),
        "k": args.k,
        "lookback_days": args.lookback_days,
        "clusters": seg.clusters,
        "sizes": seg.clusters.iter().map(|c| c.size).collect::<Vec<_>>(),
        "names": seg.clusters.iter().map(|c| c.name).collect::<Vec<_>>(),
        "inertia": seg.inertia,
        "silhouette": sil,
        "silhouette_sample": SILHOUETTE_SAMPLE.min(rows.len()),
        "time_ms": {
            "read": read_ms,
            "aggregate_and_cluster": cluster_ms,
            "kmeans": seg.kmeans_ms,
            "silhouette": silhouette_ms,
        },
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_of_orders_is_clustered_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.csv");
        let mut csv = String::from("customer_id,date,amount\n");
        for i in 0..10 {
            // Five recent big spenders with three orders, five lapsed small one-off buyers.
            for d in 0..3 {
                csv.push_str(&format!("vip{i},2026-11-{:02},{}\n", 20 + d, 400 + i));
            }
            csv.push_str(&format!("old{i},2026-01-{:02}T08:00:00Z,12.5\n", 1 + i));
        }
        std::fs::write(&path, csv).unwrap();
        let args = SegmentsArgs {
            orders: Some(path.clone()),
            synthetic: None,
            k: 2,
            lookback_days: 3650,
            seed: 42,
        };
        let r = evaluate(&args).unwrap();
        assert_eq!(r["orders"], 40);
        assert_eq!(r["customers"], 20);
        assert_eq!(r["sizes"], serde_json::json!([10, 10]));
        assert!(r["silhouette"].as_f64().unwrap() > 0.5, "{r}");
        assert!(r["inertia"].is_number());
        assert!(r["time_ms"]["kmeans"].is_number());
        // A bad row names its line; a k out of range is refused.
        std::fs::write(&path, "a,2026-01-01,abc\n").unwrap();
        let e = evaluate(&args).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        let e = evaluate(&SegmentsArgs { k: 13, ..args })
            .unwrap_err()
            .to_string();
        assert!(e.contains("--k"), "{e}");
    }
}
