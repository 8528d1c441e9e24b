//! A guest's interactions become the user's when the guest signs in (with the guest cart id
//! of `X-Cart-Id`, as the cart merge): what they browsed before signing in keeps shaping their
//! recommendations afterwards.
//!
//! Each guest pair aggregate is added to the user's aggregate of the same product (per-kind
//! counts summed; `last_at` the later of the two) and deleted, both in one transaction (50 pairs
//! per transaction), the delete conditioned on the guest counts being the ones read: a guest
//! signal landing meanwhile fails that transaction and leaves it for the next sign-in, never
//! counted twice or lost. Raw events and hourly product activity are not moved (they are
//! already counted and name no user for training).

use std::collections::HashMap;

use super::{ATTR_ACTOR, ATTR_LAST_AT, ATTR_PRODUCT, Actor, actor_aggregates};
use crate::store::{Condition, ItemStore, StoreResult, TxOp, Update, keys};

/// Pairs per transaction (two operations each; DynamoDB allows 100).
const PAIRS_PER_TX: usize = 50;

/// Moves the aggregates of guest cart `cart_id` to `user_id`; returns how many pairs moved.
pub async fn merge_guest(
    store: &dyn ItemStore,
    cart_id: &str,
    user_id: &str,
) -> StoreResult<usize> {
    let guest = Actor::Guest(cart_id.to_string()).log_id();
    let user = Actor::User(user_id.to_string()).log_id();
    let pairs = actor_aggregates(store, &Actor::Guest(cart_id.to_string())).await?;
    if pairs.is_empty() {
        return Ok(0);
    }
    let user_last: HashMap<String, i64> =
        actor_aggregates(store, &Actor::User(user_id.to_string()))
            .await?
            .into_iter()
            .map(|a| (a.product_id, a.last_at))
            .collect();
    let mut moved = 0;
    for chunk in pairs.chunks(PAIRS_PER_TX) {
        let mut ops = Vec::with_capacity(chunk.len() * 2);
        for g in chunk {
            let mut update = Update::new()
                .set(ATTR_ACTOR, user.clone())
                .set(ATTR_PRODUCT, g.product_id.clone());
            for &(kind, n) in &g.counts {
                if n != 0 {
                    update = update.add(kind.name(), n);
                }
            }
            let last = g
                .last_at
                .max(user_last.get(&g.product_id).copied().unwrap_or(0));
            if last > 0 {
                update = update.set(ATTR_LAST_AT, last);
            }
            ops.push(TxOp::Update {
                key: keys::interaction(&user, &g.product_id),
                update,
                condition: None,
            });
            let mut unchanged = vec![Condition::ItemExists];
            unchanged.extend(g.counts.iter().map(|&(k, n)| Condition::eq(k.name(), n)));
            ops.push(TxOp::Delete {
                key: keys::interaction(&guest, &g.product_id),
                condition: Some(Condition::And(unchanged)),
            });
        }
        store.transact(ops).await?;
        moved += chunk.len();
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::super::{InteractionKind, KindWeights, Signal, actor_history, record};
    use super::*;
    use crate::store::local::LocalStore;

    #[tokio::test]
    async fn a_guests_history_becomes_the_users_once() {
        let s = LocalStore::in_memory().unwrap();
        let at = |h| Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap();
        let guest = Actor::Guest("cart-1".into());
        let user = Actor::User("u1".into());
        record(
            &s,
            &[
                Signal::new(guest.clone(), "p1", InteractionKind::View).at(at(10)),
                Signal::new(guest.clone(), "p2", InteractionKind::Cart).at(at(11)),
                Signal::new(user.clone(), "p1", InteractionKind::View).at(at(9)),
                Signal::new(user.clone(), "p3", InteractionKind::NotInterested).at(at(8)),
            ],
        )
        .await
        .unwrap();

        assert_eq!(merge_guest(&s, "cart-1", "u1").await.unwrap(), 2);
        let w = KindWeights::default();
        let (history, excluded) = actor_history(&s, &user, &w).await.unwrap();
        // p2 (cart 3, at 11h) first, then p1 (two views = 2, latest 10h).
        assert_eq!(
            history,
            vec![("p2".to_string(), 3.0), ("p1".to_string(), 2.0)]
        );
        assert_eq!(excluded, vec!["p3".to_string()]);
        let (guest_left, _) = actor_history(&s, &guest, &w).await.unwrap();
        assert!(guest_left.is_empty());
        // A second sign-in with the same cart id moves nothing and counts nothing twice.
        assert_eq!(merge_guest(&s, "cart-1", "u1").await.unwrap(), 0);
        assert_eq!(actor_history(&s, &user, &w).await.unwrap().0.len(), 2);
    }
}
