//! The kinds of interaction and their weights.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a shopper did with a product. The serde names are the attribute names of the counts on
/// the aggregate and activity items, and the keys of the `interactions` config's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// Product detail view, or a viewed-products add.
    View,
    /// Cart add (each add, whatever the quantity).
    Cart,
    /// One order line (a cancelled order withdraws it with a negative count).
    Purchase,
    /// Like of a video of the product (an unlike withdraws it).
    Like,
    /// Save of a video of the product (an unsave withdraws it).
    Save,
    /// Share of a video of the product.
    Share,
    /// Completed view of a video of the product.
    VideoView,
    /// Click on the product in search results.
    SearchClick,
    /// Click on a recommendation of the product.
    RecClick,
    /// "Not interested" feedback: never a positive weight; the pair is left out of training and
    /// the product out of the user's recommendations.
    NotInterested,
}

impl InteractionKind {
    pub const ALL: [InteractionKind; 10] = [
        InteractionKind::View,
        InteractionKind::Cart,
        InteractionKind::Purchase,
        InteractionKind::Like,
        InteractionKind::Save,
        InteractionKind::Share,
        InteractionKind::VideoView,
        InteractionKind::SearchClick,
        InteractionKind::RecClick,
        InteractionKind::NotInterested,
    ];

    /// The attribute / config name.
    pub fn name(self) -> &'static str {
        match self {
            InteractionKind::View => "view",
            InteractionKind::Cart => "cart",
            InteractionKind::Purchase => "purchase",
            InteractionKind::Like => "like",
            InteractionKind::Save => "save",
            InteractionKind::Share => "share",
            InteractionKind::VideoView => "video_view",
            InteractionKind::SearchClick => "search_click",
            InteractionKind::RecClick => "rec_click",
            InteractionKind::NotInterested => "not_interested",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Weight of each kind (the `interactions` ML config's parameters; defaults: view 1, cart 3,
/// purchase 5, like/save/share 2, video view, search click and recommendation click 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindWeights {
    pub view: f32,
    pub cart: f32,
    pub purchase: f32,
    pub like: f32,
    pub save: f32,
    pub share: f32,
    pub video_view: f32,
    pub search_click: f32,
    pub rec_click: f32,
}

impl Default for KindWeights {
    fn default() -> Self {
        Self {
            view: 1.0,
            cart: 3.0,
            purchase: 5.0,
            like: 2.0,
            save: 2.0,
            share: 2.0,
            video_view: 1.0,
            search_click: 1.0,
            rec_click: 1.0,
        }
    }
}

impl KindWeights {
    /// The weight of one interaction of `kind` (0 for `not_interested`).
    pub fn of(&self, kind: InteractionKind) -> f32 {
        match kind {
            InteractionKind::View => self.view,
            InteractionKind::Cart => self.cart,
            InteractionKind::Purchase => self.purchase,
            InteractionKind::Like => self.like,
            InteractionKind::Save => self.save,
            InteractionKind::Share => self.share,
            InteractionKind::VideoView => self.video_view,
            InteractionKind::SearchClick => self.search_click,
            InteractionKind::RecClick => self.rec_click,
            InteractionKind::NotInterested => 0.0,
        }
    }

    /// From config parameters: the defaults overridden by every finite, non-negative number
    /// given under a kind's name (the ml-models function validates the config before it is
    /// stored; anything else here is ignored rather than failing a training run).
    pub fn from_params(params: &Map<String, Value>) -> Self {
        let mut w = Self::default();
        for kind in InteractionKind::ALL {
            let Some(v) = params.get(kind.name()).and_then(Value::as_f64) else {
                continue;
            };
            if !(v.is_finite() && v >= 0.0) {
                continue;
            }
            let v = v as f32;
            match kind {
                InteractionKind::View => w.view = v,
                InteractionKind::Cart => w.cart = v,
                InteractionKind::Purchase => w.purchase = v,
                InteractionKind::Like => w.like = v,
                InteractionKind::Save => w.save = v,
                InteractionKind::Share => w.share = v,
                InteractionKind::VideoView => w.video_view = v,
                InteractionKind::SearchClick => w.search_click = v,
                InteractionKind::RecClick => w.rec_click = v,
                InteractionKind::NotInterested => {}
            }
        }
        w
    }

    /// The weighted sum of per-kind counts (negative totals count as 0).
    pub fn weigh(&self, counts: &[(InteractionKind, i64)]) -> f32 {
        let total: f32 = counts.iter().map(|&(k, n)| self.of(k) * n as f32).sum();
        total.max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip() {
        for k in InteractionKind::ALL {
            assert_eq!(InteractionKind::parse(k.name()), Some(k));
            assert_eq!(
                serde_json::to_value(k).expect("json"),
                Value::String(k.name().into())
            );
        }
        assert_eq!(InteractionKind::parse("bogus"), None);
    }

    #[test]
    fn weights_from_params_override_defaults_and_ignore_junk() {
        let Value::Object(p) = json!({"view": 0.5, "cart": "x", "purchase": -1, "like": 4}) else {
            panic!("object")
        };
        let w = KindWeights::from_params(&p);
        assert_eq!(w.view, 0.5);
        assert_eq!(w.cart, 3.0);
        assert_eq!(w.purchase, 5.0);
        assert_eq!(w.like, 4.0);
        // 2 views (1 each) + 1 cart (3) + a withdrawn purchase (-5 + 5 = 0).
        let d = KindWeights::default();
        assert_eq!(
            d.weigh(&[
                (InteractionKind::View, 2),
                (InteractionKind::Cart, 1),
                (InteractionKind::Purchase, 0)
            ]),
            5.0
        );
        assert_eq!(d.weigh(&[(InteractionKind::Purchase, -1)]), 0.0);
        assert_eq!(d.of(InteractionKind::NotInterested), 0.0);
    }
}
