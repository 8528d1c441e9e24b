//! The names a served recommendation carries in its `algorithm` field, and the family each one
//! is reported under by the recommendation performance route (spec 002 filters by
//! `collaborative|content_based|hybrid|trending|fbt`).

use serde::{Deserialize, Serialize};

/// The source that contributed most to a served item (its `algorithm` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// ALS (with fold-in) or EASE on the caller's history.
    CollaborativeFiltering,
    /// Item-item neighbours (item-kNN) of the caller's recent views and purchases.
    ItemSimilarity,
    /// Product embeddings ("more like what you viewed").
    VectorSimilarity,
    /// Frequently-bought-together rules.
    Fbt,
    /// Time-decayed recent activity.
    Trending,
    /// Orders and views over a window.
    Popular,
    /// Newest products.
    NewArrivals,
}

/// The performance route's filter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Collaborative,
    ContentBased,
    Hybrid,
    Trending,
    Fbt,
}

impl Algorithm {
    pub const ALL: [Algorithm; 7] = [
        Algorithm::CollaborativeFiltering,
        Algorithm::ItemSimilarity,
        Algorithm::VectorSimilarity,
        Algorithm::Fbt,
        Algorithm::Trending,
        Algorithm::Popular,
        Algorithm::NewArrivals,
    ];

    /// The name in responses and in the store.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::CollaborativeFiltering => "collaborative_filtering",
            Algorithm::ItemSimilarity => "item_similarity",
            Algorithm::VectorSimilarity => "vector_similarity",
            Algorithm::Fbt => "fbt",
            Algorithm::Trending => "trending",
            Algorithm::Popular => "popular",
            Algorithm::NewArrivals => "new_arrivals",
        }
    }

    /// The family the performance route reports this algorithm under. `Hybrid` is never an
    /// item's own family: the performance route counts an item under `hybrid` too when it was
    /// served by a blended list (see `rec_tracking`).
    pub fn family(self) -> Family {
        match self {
            Algorithm::CollaborativeFiltering | Algorithm::ItemSimilarity => Family::Collaborative,
            Algorithm::VectorSimilarity => Family::ContentBased,
            Algorithm::Fbt => Family::Fbt,
            Algorithm::Trending | Algorithm::Popular | Algorithm::NewArrivals => Family::Trending,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Collaborative,
        Family::ContentBased,
        Family::Hybrid,
        Family::Trending,
        Family::Fbt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Family::Collaborative => "collaborative",
            Family::ContentBased => "content_based",
            Family::Hybrid => "hybrid",
            Family::Trending => "trending",
            Family::Fbt => "fbt",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.name());
        }
        for f in Family::ALL {
            assert_eq!(Family::from_name(f.name()), Some(f));
            assert_eq!(serde_json::to_value(f).unwrap(), f.name());
        }
        assert_eq!(Algorithm::ItemSimilarity.family(), Family::Collaborative);
        assert_eq!(Algorithm::from_name("hybrid"), None);
    }
}
