//! The personalised feed, in the spec's four stages:
//!
//! 1. **Profile** ([`load_user_state`]): one query on the user's partition reads their likes,
//!    saves, watched videos and viewed products (every sort key starts with `V`); likes and saves
//!    carry their video's category and tags, products come from the catalog snapshot. Output:
//!    preferred categories and tags ([`crate::reco::feed::build_profile`]).
//! 2. **Candidates** ([`gather_candidates`]): newest ready videos of each preferred category
//!    (GSI2), the trending list (written by the trend job) and the newest uploads (GSI1); videos
//!    already served in this feed session are left out; a pool of at most [`POOL_SIZE`], whose
//!    counters (on items without index keys, see [`super::VideoCounts`]) come in one batch read.
//! 3. **Score** ([`score_candidates`]): the spec's formula, with a random term fixed by the
//!    session seed.
//! 4. **Rank**: unwatched first, by score; the top `limit` make the page.
//!
//! Pagination: the cursor carries the session seed and fingerprints of every video served so
//! far, so a session never repeats a video and every page scores videos the same way. Sources are
//! read deeper as the session goes on, so later pages reach older videos.

use std::collections::HashSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::{
    domain::{
        catalog::{ProductRecord, snapshot::CatalogSnapshot},
        viewed,
    },
    reco::feed::{
        self as scoring, InterestProfile, LIKE_SIGNAL, PRODUCT_VIEW_SIGNAL, PROFILE_CATEGORIES,
        PROFILE_TAGS, ProfileSets, Ranked, SAVE_SIGNAL, Score, Signal,
    },
    store::{self, Item, ItemStore, Key, Query, SK, StoreError, keys},
};

use super::{VideoCounts, VideoError, VideoRecord, VideoStatus};

/// Largest candidate pool scored per page.
pub const POOL_SIZE: usize = 100;
/// Share of the pool per source (the rest is filled from whatever is left).
const INTEREST_SHARE: usize = 50;
const TRENDING_SHARE: usize = 25;
const RECENT_SHARE: usize = 25;
/// Videos read per source on the first page (per preferred category; the newest uploads; the
/// trending list); later pages read these plus the videos served so far.
const CATEGORY_DEPTH: usize = 20;
const SOURCE_DEPTH: usize = 30;
/// Longest feed session: the cursor remembers at most this many served videos.
pub const MAX_SESSION_VIDEOS: usize = 500;
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 50;

const CURSOR_VERSION: u8 = 1;

/// Where a feed session is: its seed and the videos it served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    pub seed: u64,
    pub served: Vec<u32>,
}

impl FeedCursor {
    /// Opaque URL-safe text: version, seed, served fingerprints.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(9 + 4 * self.served.len());
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&self.seed.to_le_bytes());
        for f in &self.served {
            bytes.extend_from_slice(&f.to_le_bytes());
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(text: &str) -> Result<Self, VideoError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| VideoError::BadCursor)?;
        let (version, rest) = bytes.split_first().ok_or(VideoError::BadCursor)?;
        if *version != CURSOR_VERSION || rest.len() < 8 || (rest.len() - 8) % 4 != 0 {
            return Err(VideoError::BadCursor);
        }
        let (seed, served) = rest.split_at(8);
        let seed = u64::from_le_bytes(seed.try_into().map_err(|_| VideoError::BadCursor)?);
        let served: Vec<u32> = served
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if served.len() > MAX_SESSION_VIDEOS {
            return Err(VideoError::BadCursor);
        }
        Ok(Self { seed, served })
    }
}

/// What the feed knows about the caller.
#[derive(Debug, Clone, Default)]
pub struct UserState {
    pub profile: InterestProfile,
    pub liked: HashSet<String>,
    pub saved: HashSet<String>,
    pub watched: HashSet<String>,
}

/// What a like or save record holds for the profile: the video's category and tags when it
/// was liked or saved.
struct InteractionRow<'a> {
    category_id: Option<&'a str>,
    tags: Vec<String>,
    weight: f64,
}

impl<'a> InteractionRow<'a> {
    fn of(item: &'a Item, weight: f64) -> Self {
        Self {
            category_id: item.get("category_id").and_then(Value::as_str),
            tags: item
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            weight,
        }
    }
}

/// Stage 1 for a signed-in user (anonymous callers have an empty [`UserState`]).
pub async fn load_user_state(
    store: &dyn ItemStore,
    catalog: &CatalogSnapshot,
    user_id: &str,
) -> Result<UserState, StoreError> {
    let items = store::query_all(
        store,
        Query::table(keys::user_pk(user_id))
            .begins_with(keys::USER_VIDEO_PREFIX)
            .project(&["category_id", "tags", "entries"]),
    )
    .await?;
    Ok(user_state_from_items(&items, catalog))
}

/// The pure part of stage 1: the user's `V*` items to a profile and interaction sets.
pub fn user_state_from_items(items: &[Item], catalog: &CatalogSnapshot) -> UserState {
    let mut state = UserState::default();
    let mut rows: Vec<InteractionRow> = Vec::new();
    let mut viewed: Vec<&ProductRecord> = Vec::new();
    for item in items {
        let Some(sk) = item.get(SK).and_then(Value::as_str) else {
            continue;
        };
        if let Some(id) = sk.strip_prefix(keys::VIDEO_LIKE_PREFIX) {
            state.liked.insert(id.to_string());
            rows.push(InteractionRow::of(item, LIKE_SIGNAL));
        } else if let Some(id) = sk.strip_prefix(keys::VIDEO_SAVE_PREFIX) {
            state.saved.insert(id.to_string());
            rows.push(InteractionRow::of(item, SAVE_SIGNAL));
        } else if let Some(id) = sk.strip_prefix(keys::VIDEO_WATCH_PREFIX) {
            state.watched.insert(id.to_string());
        } else if sk == keys::VIEWED_SK {
            viewed.extend(viewed::product_ids(item).filter_map(|id| catalog.product(id)));
        }
    }
    // Product tags are free text: normalised like video tags before they are compared.
    let product_tags: Vec<Vec<String>> =
        viewed.iter().map(|p| super::clean_tags(&p.tags)).collect();
    let signals = rows
        .iter()
        .map(|r| Signal {
            category_id: r.category_id,
            tags: &r.tags,
            weight: r.weight,
        })
        .chain(viewed.iter().zip(&product_tags).map(|(p, tags)| Signal {
            category_id: Some(p.category_id.as_str()),
            tags,
            weight: PRODUCT_VIEW_SIGNAL,
        }));
    state.profile = scoring::build_profile(signals, PROFILE_CATEGORIES, PROFILE_TAGS);
    state
}

/// Stage 2's output.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// Each with its counters.
    pub videos: Vec<(VideoRecord, VideoCounts)>,
    /// True when every source was read to its end: deeper pages would find nothing new.
    pub exhausted: bool,
}

/// Stage 2: the candidate pool, without the videos in `served` (fingerprints).
pub async fn gather_candidates(
    store: &dyn ItemStore,
    profile: &InterestProfile,
    served: &HashSet<u32>,
) -> Result<Candidates, StoreError> {
    let depth = SOURCE_DEPTH + served.len();
    let newest =
        |q: Query, depth: usize| q.reverse().limit(u32::try_from(depth).unwrap_or(u32::MAX));

    let category_queries = profile.categories.iter().map(|c| {
        store.query(newest(
            Query::gsi2(keys::category_videos_pk(c)),
            CATEGORY_DEPTH + served.len(),
        ))
    });
    let (by_category, recent, trending) = futures::join!(
        futures::future::try_join_all(category_queries),
        store.query(newest(Query::gsi1(keys::READY_VIDEOS_PK), depth)),
        trending_ids(store),
    );
    let (by_category, recent, trending) = (by_category?, recent?, trending?);

    let mut exhausted = recent.cursor.is_none() && trending.len() <= depth;
    let mut seen: HashSet<String> = HashSet::new();
    let mut interest = Vec::new();
    for page in by_category {
        exhausted &= page.cursor.is_none();
        interest.extend(fresh(page.items, served, &mut seen));
    }
    let newest_videos = fresh(recent.items, served, &mut seen);
    // The first `depth` unserved trending ids; those already read above are not read again.
    let wanted: Vec<Key> = trending
        .iter()
        .filter(|id| !served.contains(&scoring::fingerprint(id)))
        .take(depth)
        .filter(|id| !seen.contains(id.as_str()))
        .map(|id| keys::video(id))
        .collect();
    let fetched = store.batch_get(&wanted).await?;
    let ready = Value::from(VideoStatus::Ready.as_str());
    // The trend job lists ids by score: that order is kept (batch_get keeps key order).
    let trending_videos = fresh(
        fetched
            .into_iter()
            .filter(|i| i.get("status") == Some(&ready))
            .collect(),
        served,
        &mut seen,
    );

    let mut pool = Vec::with_capacity(POOL_SIZE);
    let mut rest = Vec::new();
    for (source, share) in [
        (interest, INTEREST_SHARE),
        (trending_videos, TRENDING_SHARE),
        (newest_videos, RECENT_SHARE),
    ] {
        let mut source = source.into_iter();
        pool.extend(source.by_ref().take(share));
        rest.extend(source);
    }
    let room = POOL_SIZE.saturating_sub(pool.len());
    if rest.len() > room {
        exhausted = false;
    }
    pool.extend(rest.into_iter().take(room));
    let ids: Vec<&str> = pool.iter().map(|v| v.id.as_str()).collect();
    let mut counts = super::counts_of(store, &ids).await?;
    let videos = pool
        .into_iter()
        .map(|v| {
            let c = counts.remove(&v.id).unwrap_or_default();
            (v, c)
        })
        .collect();
    Ok(Candidates { videos, exhausted })
}

/// The videos among `items` not served in this session nor taken from an earlier source.
fn fresh(items: Vec<Item>, served: &HashSet<u32>, seen: &mut HashSet<String>) -> Vec<VideoRecord> {
    items
        .into_iter()
        .filter_map(|item| store::from_item::<VideoRecord>(item).ok())
        .filter(|v| !served.contains(&scoring::fingerprint(&v.id)) && seen.insert(v.id.clone()))
        .collect()
}

/// The trend job's list of video ids, highest `trend_score` first.
pub async fn trending_ids(store: &dyn ItemStore) -> Result<Vec<String>, StoreError> {
    Ok(store
        .get(&keys::trending_videos())
        .await?
        .and_then(|mut i| i.remove("video_ids"))
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

/// Stages 3 and 4: the spec's score for each candidate, ranked.
pub fn score_candidates(
    candidates: Vec<(VideoRecord, VideoCounts)>,
    user: &UserState,
    seed: u64,
) -> Vec<Ranked<(VideoRecord, VideoCounts, Score)>> {
    let sets = ProfileSets::new(&user.profile);
    let mut ranked: Vec<Ranked<(VideoRecord, VideoCounts, Score)>> = candidates
        .into_iter()
        .map(|(v, c)| {
            let s = scoring::score(
                &scoring::Candidate {
                    id: &v.id,
                    category_id: &v.category_id,
                    tags: &v.tags,
                    views: c.views_count,
                    likes: c.likes_count,
                    shares: c.shares_count,
                    trend_score: v.trend_score,
                },
                &sets,
                scoring::random_term(seed, &v.id),
            );
            Ranked {
                score: s.total(),
                watched: user.watched.contains(&v.id),
                item: (v, c, s),
            }
        })
        .collect();
    scoring::rank(&mut ranked, |(v, _, _)| v.id.clone());
    ranked
}

/// One entry of a feed page; the product is the catalog snapshot's.
#[derive(Debug, Clone)]
pub struct FeedEntry<'a> {
    pub video: VideoRecord,
    pub counts: VideoCounts,
    pub product: &'a ProductRecord,
    pub score: Score,
    pub is_liked: bool,
    pub is_saved: bool,
}

/// A page and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct FeedPage<'a> {
    pub entries: Vec<FeedEntry<'a>>,
    pub next_cursor: Option<String>,
}

/// One page of the feed. `user` is `None` for anonymous callers (trending and recent videos);
/// `cursor` continues a session, else `seed` (or a random one) starts one.
pub async fn page<'a>(
    store: &dyn ItemStore,
    catalog: &'a CatalogSnapshot,
    user_id: Option<&str>,
    limit: usize,
    cursor: Option<FeedCursor>,
    seed: Option<u64>,
) -> Result<FeedPage<'a>, VideoError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let cursor = cursor.unwrap_or_else(|| FeedCursor {
        seed: seed.unwrap_or_else(rand::random),
        served: Vec::new(),
    });
    if cursor.served.len() >= MAX_SESSION_VIDEOS {
        return Ok(FeedPage {
            entries: Vec::new(),
            next_cursor: None,
        });
    }
    let user = match user_id {
        Some(id) => load_user_state(store, catalog, id).await?,
        None => UserState::default(),
    };
    let served: HashSet<u32> = cursor.served.iter().copied().collect();
    let candidates = gather_candidates(store, &user.profile, &served).await?;
    let exhausted = candidates.exhausted;
    // Shoppable means a product to buy: videos of inactive or deleted products are left out.
    let videos: Vec<(VideoRecord, VideoCounts)> = candidates
        .videos
        .into_iter()
        .filter(|(v, _)| catalog.product(&v.product_id).is_some_and(|p| p.is_active))
        .collect();
    let ranked = score_candidates(videos, &user, cursor.seed);
    let more_ranked = ranked.len() > limit;
    let entries: Vec<FeedEntry> = ranked
        .into_iter()
        .take(limit)
        .filter_map(|r| {
            let (video, counts, score) = r.item;
            let product = catalog.product(&video.product_id)?;
            Some(FeedEntry {
                is_liked: user.liked.contains(&video.id),
                is_saved: user.saved.contains(&video.id),
                video,
                counts,
                product,
                score,
            })
        })
        .collect();
    let mut served_now = cursor.served;
    served_now.extend(entries.iter().map(|e| scoring::fingerprint(&e.video.id)));
    let next_cursor = ((more_ranked || !exhausted)
        && !entries.is_empty()
        && served_now.len() < MAX_SESSION_VIDEOS)
        .then(|| {
            FeedCursor {
                seed: cursor.seed,
                served: served_now,
            }
            .encode()
        });
    Ok(FeedPage {
        entries,
        next_cursor,
    })
}
