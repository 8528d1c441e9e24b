//! RFM segment generation (`POST .../segments/generate-rfm`, and the `kmeans` model of
//! `ml-config/train`): reads the non-cancelled orders of the lookback window (one range query
//! on the all-orders index, projected, paged), clusters the customers with
//! [`crate::reco::rfm::segment`], and replaces the `rfm` segments an earlier generation made
//! with one segment per cluster: named from the cluster (the standard RFM names), criteria the
//! cluster's ranges (recency, frequency, monetary), members exactly the cluster's customers
//! (installed as a generation, [`membership::install`]). Generated segments are not
//! `auto_update`: their members come from the clustering, which the ranges only describe
//! (clusters' ranges may overlap), so the refresh job and real-time re-evaluation leave them
//! alone until the next generation. A name already used by a hand-made segment gets ` (RFM)`.

use serde::Serialize;
use serde_json::{Value, json};

use super::membership::{self, RecomputeError};
use super::records::{self, RecordError};
use crate::domain::orders::OrderStatus;
use crate::reco::clusters::{ClusterError, ClusterParams};
use crate::reco::rfm::{self, OrderFact, RfmSegmentation};
use crate::store::{ItemStore, Query, SortKey, StoreError, StoreResult, keys};

/// What generate-rfm is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RfmRequest {
    pub n_clusters: usize,
    pub lookback_days: u32,
    pub seed: u64,
    pub restarts: usize,
}

impl Default for RfmRequest {
    fn default() -> Self {
        Self {
            n_clusters: 5,
            lookback_days: 365,
            seed: 42,
            restarts: 8,
        }
    }
}

/// The outcome (spec shape plus the clusters and timings).
#[derive(Debug, Clone, Serialize)]
pub struct RfmOutcome {
    pub segments_created: usize,
    pub total_users_segmented: usize,
    pub clusters: Vec<GeneratedSegment>,
    pub inertia: f64,
    pub kmeans_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GeneratedSegment {
    pub segment_id: String,
    pub name: String,
    pub member_count: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RfmError {
    #[error("{customers} customers with orders in the window for {k} clusters")]
    NotEnoughCustomers { customers: usize, k: usize },
    #[error("k-means: {0}")]
    Cluster(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Recompute(#[from] RecomputeError),
}

/// Non-cancelled orders placed since `since` (epoch seconds), as RFM reads them.
pub async fn orders_since(
    store: &dyn ItemStore,
    since: chrono::DateTime<chrono::Utc>,
) -> StoreResult<Vec<OrderFact>> {
    let from = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::gsi2(keys::ALL_ORDERS_PK)
                    .sk(SortKey::Ge(from.clone()))
                    .project(&["user_id", "total_amount_cents", "status", "created_at"])
                    .limit(1000)
                    .cursor(cursor),
            )
            .await?;
        for item in &page.items {
            let status = item.get("status").and_then(Value::as_str).unwrap_or("");
            if status == OrderStatus::Cancelled.as_str() {
                continue;
            }
            let (Some(user), Some(cents), Some(at)) = (
                item.get("user_id").and_then(Value::as_str),
                item.get("total_amount_cents").and_then(Value::as_i64),
                item.get("created_at")
                    .and_then(Value::as_str)
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
            ) else {
                continue;
            };
            out.push(OrderFact {
                customer: user.to_string(),
                at: at.timestamp(),
                cents,
            });
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Clusters `orders` (pure part; also what `local eval segments` runs).
pub fn cluster_orders(
    orders: &[OrderFact],
    now: i64,
    req: &RfmRequest,
) -> Result<(Vec<rfm::RfmRow>, RfmSegmentation), RfmError> {
    let rows = rfm::aggregate(orders, now, req.lookback_days);
    if rows.len() < req.n_clusters {
        return Err(RfmError::NotEnoughCustomers {
            customers: rows.len(),
            k: req.n_clusters,
        });
    }
    let params = ClusterParams {
        seed: req.seed,
        restarts: req.restarts,
        ..ClusterParams::default()
    };
    match rfm::segment(&rows, req.n_clusters, &params) {
        Ok(s) => Ok((rows, s)),
        Err(ClusterError::TooFewRows { distinct, k }) => Err(RfmError::NotEnoughCustomers {
            customers: distinct,
            k,
        }),
        Err(e) => Err(RfmError::Cluster(e.to_string())),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Runs the whole generation on the store (see the module docs).
pub async fn generate(store: &dyn ItemStore, req: &RfmRequest) -> Result<RfmOutcome, RfmError> {
    let started = std::time::Instant::now();
    let now = chrono::Utc::now();
    let since = now - chrono::Duration::days(i64::from(req.lookback_days));
    let orders = orders_since(store, since).await?;
    let (rows, seg) = cluster_orders(&orders, now.timestamp(), req)?;
    // Replace the earlier generation's segments.
    for old in records::list(store).await? {
        if old.rfm_cluster.is_some() {
            membership::delete_generation(store, &old.id, old.generation).await?;
            records::delete(store, &old).await?;
        }
    }
    let mut members: Vec<Vec<String>> = vec![Vec::new(); seg.clusters.len()];
    for (r, &a) in rows.iter().zip(&seg.assignments) {
        if let Some(m) = members.get_mut(a) {
            m.push(r.customer.clone());
        }
    }
    let mut clusters = Vec::with_capacity(seg.clusters.len());
    for (i, (c, ids)) in seg.clusters.iter().zip(members).enumerate() {
        let criteria = json!({
            "recency_days": {"min": c.recency_days.min.floor(), "max": c.recency_days.max.ceil()},
            "frequency_orders": {"min": c.frequency.min, "max": c.frequency.max},
            "monetary_amount": {"min": round2(c.monetary.min), "max": round2(c.monetary.max)},
        });
        let description = format!(
            "RFM cluster {i} of {} over {} days: mean recency {:.0} days, {:.1} orders, {:.2} spent (scores R {:.1}, F {:.1}, M {:.1})",
            seg.clusters.len(),
            req.lookback_days,
            c.mean[0],
            c.mean[1],
            c.mean[2],
            c.scores[0],
            c.scores[1],
            c.scores[2]
        );
        let mut segment = records::new_segment(
            c.name.to_string(),
            Some(description),
            "rfm",
            criteria,
            false,
        );
        segment.rfm_cluster = Some(json!({
            "cluster": i,
            "scores": c.scores,
            "mean": c.mean,
            "lookback_days": req.lookback_days,
        }));
        match records::create(store, &segment).await {
            Ok(()) => {}
            Err(RecordError::NameTaken) => {
                segment.name = format!("{} (RFM)", c.name);
                records::create(store, &segment)
                    .await
                    .map_err(|e| match e {
                        RecordError::Store(e) => RfmError::Store(e),
                        e => RfmError::Cluster(format!("segment {}: {e:?}", segment.name)),
                    })?;
            }
            Err(RecordError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(RfmError::Cluster(format!("segment {}: {e:?}", c.name))),
        }
        let n = membership::install(store, &segment, ids).await?;
        clusters.push(GeneratedSegment {
            segment_id: segment.id,
            name: segment.name,
            member_count: n,
        });
    }
    Ok(RfmOutcome {
        segments_created: clusters.len(),
        total_users_segmented: rows.len(),
        clusters,
        inertia: seg.inertia,
        kmeans_ms: seg.kmeans_ms,
        total_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}
