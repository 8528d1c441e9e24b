//! Every key pattern of the single table, in one place.
//!
//! **Hot counters never sit on an item with index keys.** The GSIs project ALL attributes
//! (`template.yaml`; CloudFormation cannot change an existing index's projection in place, so a
//! narrower projection needs new index names), so an `ADD` on an item with `GSI1PK`/`GSI2PK` also
//! writes that index partition: at about 1,000 interactions a second one `VIDEOS#READY` or
//! category partition throttles and pushes back on the table. A counter that moves on requests
//! goes on its own item without index keys next to the indexed one (`VIDEO#<id>` / `COUNTERS`,
//! `TEACHER#<id>` / `ACTIVITY`), or on a sharded key (`VIDEOACT#<hour>#<shard>`); readers batch-get
//! the counter items of a page. `shared::testkit::hot_counters` fails the event replay
//! (`tests/tests/hot_counters.rs`) on any `ADD` to an item with index keys, with no exceptions
//! (products: `PRODUCT#<id>` / `COUNTERS`; search clicks: `SEARCH#<id>` / `CLICKS`). New interactions and rollups follow the same rule.
//!
//! What each index's readers need (what a narrower projection would keep, besides the keys):
//! GSI1 `USERS`: the user list's fields; `CATEGORIES`, `PRODUCTS`: the whole record (catalog
//! snapshot); `USERORDERS#`: order summaries; `SEARCHLOG#`: the log entry; `TEACHERS`: the keys
//! only (the user id; counts come from the activity items); `CLUSTERASSIGN#`: keys only;
//! `VIDEOS#READY`: the record (feed candidates; the trend job reads `trend_score`);
//! `VIDEOREFS#`: keys only (deletes). GSI2 `CATPRODUCTS#`, `ORDERS`: as their GSI1 siblings;
//! `VIDEOCAT#`: the video record (feed candidates).
//!
//! | entity | PK | SK | GSI1PK / GSI1SK | GSI2PK / GSI2SK | notes |
//! |---|---|---|---|---|---|
//! | user | `USER#<id>` | `PROFILE` | `USERS` / `<created_at>#<id>` | - | admin list, newest first |
//! | email marker | `UNIQUE#EMAIL#<lowercase email>` | `UNIQUE` | - | - | `user_id`; uniqueness by transaction |
//! | username marker | `UNIQUE#USERNAME#<lowercase username>` | `UNIQUE` | - | - | `user_id` |
//! | user preferences | `USER#<id>` | `PREFERENCES` | - | - | |
//! | failed logins (login name, address) | `LOGINFAIL#<login hash>#<address>` | `CURRENT` | - | - | `count` (`ADD`); `expires_at` = first failure + window; login hash: 32 hex of SHA-256 of the lower-cased login name, known or not |
//! | failed logins (address) | `LOGINFAIL#ADDR#<address>` | `CURRENT` | - | - | `count` (`ADD`) across login names; `expires_at` = first failure + window |
//! | stats counter | `STATS` | `<name>` | - | - | atomic `ADD` counters (e.g. `users`) |
//! | hourly counter | `STATS#HOUR#<yyyy-mm-ddThh>` | `<name>` | - | - | `expires_at` after 8 days |
//! | catalog version | `CATALOG` | `VERSION` | - | - | `n`, `ADD` 1 on every category/product write |
//! | category | `CATEGORY#<id>` | `CATEGORY` | `CATEGORIES` / `<lowercase name>#<id>` | - | few: one partition |
//! | category slug marker | `UNIQUE#CATSLUG#<slug>` | `UNIQUE` | - | - | `owner_id` |
//! | product | `PRODUCT#<id>` | `PRODUCT` | `PRODUCTS` / `<created_at>#<id>` | `CATPRODUCTS#<category id>` / `<created_at>#<id>` | catalog data; no counters (they would write both indexes on every `ADD`) |
//! | product counters | `PRODUCT#<id>` | `COUNTERS` | - | - | `stock_quantity`, `view_count`, `order_count`, `basket_count` by `ADD`; written with the product; stock decremented in the order transaction |
//! | product code marker | `UNIQUE#PRODUCTCODE#<lowercase code>` | `UNIQUE` | - | - | `owner_id` |
//! | viewed products | `USER#<id>` | `VIEWED` | - | - | list of `{product_id, viewed_at}`, newest first, max 50 |
//! | cart line (user) | `CART#U#<user id>` | `LINE#<product id>` | - | - | `quantity` written conditionally |
//! | cart line (guest) | `CART#G#<cart id>` | `LINE#<product id>` | - | - | `expires_at` 30 days after the last change |
//! | order | `ORDER#<id>` | `ORDER` | `USERORDERS#<user id>` / `<created_at>#<id>` | `ORDERS` / `<created_at>#<id>` | lines inside; all orders on GSI2 for admins |
//! | order number marker | `UNIQUE#ORDERNO#<number>` | `UNIQUE` | - | - | `order_id` |
//! | idempotency key | `IDEMPOTENCY#<user id>#<key>` | `ORDER` | - | - | `order_id`; `expires_at` after 24 h |
//! | co-purchase count | `COPURCHASE#<product a>` | `<product b>` | - | - | `count` of orders with both; `ADD` |
//! | FBT rule set | `PRODUCT#<id>` | `FBT` | - | - | mined rules for the product (jobs) |
//! | search log | `SEARCH#<id>` | `SEARCH` | `SEARCHLOG#<yyyy-mm-dd>` / `<created_at>#<id>` | - | query, user, results, latency; `expires_at` 90 days |
//! | search clicks | `SEARCH#<id>` | `CLICKS` | - | - | `clicks` by `ADD`, last clicked product and position; `expires_at` 90 days |
//! | popular query | `POPULARQUERIES` | `<normalised query>` | - | - | `count`; prefix queries give suggestions |
//! | teacher (spec 003) | `TEACHER#<user id>` | `PROFILE` | `TEACHERS` / `<user id, 20 digits>` | - | profile only (no counters: indexed) |
//! | teacher activity | `TEACHER#<user id>` | `ACTIVITY` | - | - | the eight activity counts (`ADD`); written with the profile |
//! | cluster assignment | `TEACHER#<user id>` | `CLUSTER#<version>` | `CLUSTERASSIGN#<version>` / `<user id, 20 digits>` | - | `cluster_id` of one clustering version |
//! | clustering in force | `CLUSTERS` | `CURRENT` | - | - | version, names, counts, profiles, scaler, centroids |
//! | clustering version | `CLUSTERS` | `VERSION#<version>` | - | - | `status` writing / ready; cleanup of old versions |
//! | labelled example | `CLASSIFY#EXAMPLES` | `<created_at>#<id>` | - | - | content, theme, defi (classifier training set) |
//! | classifier in force | `CLASSIFY#MODEL` | `CURRENT` | - | - | version, blob key of the model artifact |
//! | product embedding | `PRODUCT#<id>` | `EMBEDDING` | - | - | f32 LE vector, base64; `text_hash`, model |
//! | shoppable video | `VIDEO#<id>` | `VIDEO` | `VIDEOS#READY` / `<created_at>#<id>` | `VIDEOCAT#<category id>` / `<created_at>#<id>` | index keys only while `ready`; no counters (`trend_score` set hourly by the trend job) |
//! | video counters | `VIDEO#<id>` | `COUNTERS` | - | - | views, likes, saves, shares (`ADD`); written and deleted with the video |
//! | video like | `USER#<id>` | `VLIKE#<video id>` | `VIDEOREFS#<video id>` / `<PK>#<SK>` | - | with the video's category and tags; written with the count on the counters item |
//! | video save | `USER#<id>` | `VSAVE#<video id>` | `VIDEOREFS#<video id>` / `<PK>#<SK>` | - | same, for saves |
//! | video watched | `USER#<id>` | `VWATCH#<video id>` | `VIDEOREFS#<video id>` / `<PK>#<SK>` | - | first completed view (`watched_at`), written once: no counter |
//! | video activity | `VIDEOACT#<yyyy-mm-ddThh>#<shard 0-7>` | `<video id>` | - | - | hourly views/likes/saves/shares (`ADD`); `expires_at` after 8 days |
//! | trending videos | `VIDEOS` | `TRENDING` | - | - | top ids by `trend_score`, written by the trend job |
//! | interaction aggregate | `INTERACT#<shard 00-15 of the actor>` | `<actor>#<product id>` | - | - | per-kind counts (`view`, `cart`, `purchase`, ...) by `ADD`, `last_at`; actor = user id or `guest:<cart id>`; training pages through the 16 shards |
//! | product activity | `PRODACT#<yyyy-mm-ddThh>#<shard 0-7>` | `<product id>` | - | - | hourly per-kind counts (`ADD`); `expires_at` after 8 days (trending) |
//! | interaction event | `EVENT#<yyyy-mm-dd>#<shard 00-15 of the actor>` | `<epoch millis, 13 digits>#<uuid>` | - | - | actor, product, kind, count, `at`; `expires_at` after 90 days (analytics) |
//! | import batch done | `IMPORT#<kind>#<xxh3 of the file's rows, 16 hex>` | `BATCH#<n, 8 digits>` | - | - | bulk import of rows without ids (interactions): a batch already written is skipped when the same file is sent again; `expires_at` after 30 days |
//! | ML config | `MLCONFIG` | `CONFIG#<config id>` | - | - | name, `model_type`, description, parameters, `is_active`, latest metrics (few: one partition) |
//! | active ML config | `MLCONFIG` | `ACTIVE#<model type>` | - | - | `config_id`; switched with both configs' `is_active` in one transaction |
//! | training run | `MLRUN#<config id>` | `<training id>#<model>` | - | - | status, reason, parameters, data sizes, phase timings, metrics (performance history) |
//! | training lock | `MLTRAIN` | `LOCK` | - | - | `training_id`, models; `expires_at` (a crashed run's lock lapses) |
//! | model in force | `RECOMODEL#<model>` | `CURRENT` | - | - | version, blob key of the artifact (`models/reco/<model>/<version>`) and of its item ids |
//! | served recommendation list | `RECLIST#<recommendation id>` | `SERVED` | - | - | type, blended, actor, arm, items (product, algorithm, score), day; `expires_at` 7 days after serving (track-click and attribution read it) |
//! | recommendation click marker | `RECLIST#<recommendation id>` | `CLICK#<product id>` | - | - | written once by a conditional put: a click counts once per (list, product); expires with the list |
//! | recommendation conversion marker | `RECLIST#<recommendation id>` | `CONV#<product id>` | - | - | written once by a conditional put: a conversion counts once per (list, product); `expires_at` 7 days |
//! | latest recommendation click | `RECLASTCLICK#<user id>` | `<product id>` | - | - | the list a user last clicked the product in (its day, algorithm, blended, arm); `expires_at` 24 h (click-then-purchase attribution) |
//! | recommendation product rollup | `RECPERF#<yyyy-mm-dd>#<shard 0-7, random per write>` | `<product id>` | - | - | per family (`collaborative`, ...): `<family>_impressions`, `_score_micros`, `_clicks`, `_conversions` by `ADD`; a product has up to 8 items a day (readers sum them), so a product in every list is not one hot item; `expires_at` 400 days |
//! | recommendation day totals | `RECDAY#<yyyy-mm-dd>` | `<shard 0-7, random per write>` | - | - | the same per-family counters for the whole day (`ADD`), spread over 8 items; `expires_at` 400 days |
//! | recommendation month totals | `RECMON#<yyyy-mm>` | `<shard 0-7, the same random shard as the day write>` | - | - | the day totals' `ADD`s mirrored into the month (the analytics dashboard and KPIs read whole months here, the days at a window's ends from `RECDAY#`); rebuilt from `RECDAY#` by `analytics-rebuild`; `expires_at` 400 days after the month's last day |
//! | A/B experiment | `EXPERIMENTS` | `EXP#<experiment id (UUID v7: sorts by creation)>` | - | - | name, recommendation type, arms (name, config id, traffic share), control, status, times, winner (few: one partition) |
//! | running experiment of a type | `EXPERIMENTS` | `RUNNING#<recommendation type>` | - | - | `experiment_id`, arms, control: the one-running-per-type lock, put with the experiment (`ItemNotExists`) and deleted with its stop in one transaction; what assignment reads (cached per instance) |
//! | experiment arm counters | `EXPARM#<experiment id>#<arm>#<shard 0-7>` | `COUNTERS` | - | - | `users`, `impressions`, `clicks`, `conversions`, `revenue_cents` by `ADD` (events on a random shard; users by the actor's shard); results sum the shards |
//! | personalization segment content | `PERSOSEG#<segment id>#<yyyy-mm-dd>#<shard 0-3, random per write>` | `<content (product) id>` | - | - | a segment's daily `views`, `clicks`, `add_to_carts`, `purchases` of one content (`ADD`), `content_id`; the segment recommendations query the partitions of the window; `expires_at` 31 days |
//! | personalization content engagement | `PERSOCONT#<yyyy-mm-dd>#<shard 0-3, random per write>` | `<content (product) id>` | - | - | the same four counters per segment of the actor, and everyone's under `_all`, as `<segment>\|<counter>` attributes (`ADD`, one update per interaction); content performance and the overall rates batch-get them; `expires_at` 31 days |
//! | personalization day totals | `PERSOTOT#<yyyy-mm-dd>` | `<shard 0-3, random per write>` | - | - | weighted engagement per segment and `_all` (`ADD`); `expires_at` 31 days |
//! | personalization cache | `PERSOCACHE#<cache key>` | `CACHE` | - | - | spec 000 cache keys `user:<id>:segments`, `user:<id>:personalized_content`, `segment:<id>:recommendations`: `value` (JSON text), `computed_at`; `expires_at` 1 hour after computing (readers ignore expired items) |
//! | experiment participant | `EXPUSER#<experiment id>#<actor>` | `ASSIGNED` | - | - | `arm`; put once (`ItemNotExists`) in the transaction that adds 1 to the arm's `users`; `expires_at` after 400 days |
//! | recommendation explanation | `EXPLAIN#<prompt version>#<algorithm>#<reason slug>#<product id>#<category slug>#<c\|n>` | `TEXT` | - | - | cached sentence (`{context}` placeholder for the context item; `c`: the request had one), `source` model/template/local, `model_id`; `expires_at` 30 days (1 day for a template stored in place of an unusable model line); one partition per key, read by batch get (see `reco::explain::cache_id`) |
//! | user segment (spec 002) | `SEGMENTS` | `SEG#<segment id>` | - | - | name, description, `segment_type`, typed criteria, `is_active`, `auto_update`, `generation` (the membership in force), `member_count` at the last recompute, `version` (few: one partition) |
//! | segment name marker | `UNIQUE#SEGMENTNAME#<lowercase name>` | `UNIQUE` | - | - | `segment_id`; put with the segment in one transaction (`ItemNotExists`): names are unique |
//! | segment generation | `SEGGEN#<segment id>` | `<generation, 20 digits>` | - | - | `status` writing / ready: a recompute writes a new generation and switches the segment to it only when complete; older ones are deleted after the switch |
//! | segment member | `SEGMEMBER#<segment id>#<generation, 20 digits>` | `<user id>` | - | - | `joined_at`, `manual`; the members of one generation (users route pages through it) |
//! | segment member count | `SEGCOUNT#<segment id>#<generation, 20 digits>` | `COUNT` | - | - | `n`: put by the recompute, `ADD` ±1 by real-time re-evaluation and manual adds/removals |
//! | manual segment member | `SEGMANUAL#<segment id>` | `<user id>` | - | - | `added_at`: kept by every recompute |
//! | segments of a user (reverse index) | `USERSEG#<user id>` | `<segment id>#<generation, 20 digits>` | - | - | `name`, `segment_type`, `manual`: one query gives a user's segments (entries of a generation not in force are ignored and deleted after the switch) |
//! | user features | `USERFEAT#<shard 00-15 of the user>` | `<user id>#RFM` | - | - | `order_count`, `monetary_cents` by `ADD` at each order (a cancel subtracts), `last_order_at`, `first_order_at`; the refresh job pages through the 16 shards |
//! | user profile facts | `USERFEAT#<shard>` | `<user id>#PROFILE` | - | - | `date_of_birth`, `gender`, `country`, `region`, `interests`, `categories` (put on profile / preference writes) |
//! | user daily events | `USERFEAT#<shard>` | `<user id>#EV#<yyyy-mm-dd>` | - | - | `<kind>:<device>` counts by `ADD` (device from the User-Agent: mobile, tablet, desktop); `expires_at` after 400 days (rolling windows up to 365 days) |
//! | segment day rollup | `SEGPERF#<segment id>` | `<yyyy-mm-dd>#<shard 0-7>` | - | - | `orders`, `revenue_cents` of the segment's members that day (`ADD` at each order, for each segment of the buyer, on a random shard so a big segment's day is not one hot item; readers sum the shards); `expires_at` 400 days |
//! | analytics day totals | `ANADAY#<yyyy-mm-dd>` | `<shard 0-7, random per write>` | - | - | the day's shop counters by `ADD` (orders, revenue cents, status/payment/source/category breakdowns, searches, views, distinct-user counts, ...; see `domain::analytics`), spread over 8 items, readers sum them; `expires_at` 400 days |
//! | analytics products day | `ANAPROD#<yyyy-mm-dd>` | `<shard 0-7, random per write>` | - | - | per product sold that day `q_<product id>` (quantity) and `r_<product id>` (revenue cents) by `ADD` (cancelled orders withdrawn): one item per shard rather than one per product, so the dashboard reads 8 items a day whatever the number of products (a shard holds about 4,000 products a day within DynamoDB's 400 KB); `expires_at` 400 days |
//! | analytics month totals | `ANAMON#<yyyy-mm>` | `<shard 0-7, the same random shard as the day write>` | - | - | every `ADD` of the month's day totals mirrored but the moving ones (with `ANAMONM#`, a month is exactly the sum of its days), plus `t<dd>_<counter>` per day of the month for the daily lists (orders, kept revenue cents, funnel steps): a window reads whole months here and only the days at its ends from `ANADAY#`; `expires_at` 400 days after the month's last day |
//! | analytics products month | `ANAPMON#<yyyy-mm>` | `<shard 0-7, a hash of the product id>` | - | - | `q_<product id>`, `r_<product id>` of the month (the products day `ADD`s mirrored); sharded by product, not at random, so a product is in one shard and a month's 8 items hold each product sold once (an item holds about 4,000 products within 400 KB); `expires_at` 400 days after the month's last day |
//! | analytics month moving counters | `ANAMONM#<yyyy-mm>` | `<shard 0-7, the same random shard as the day write>` | - | - | the month's counters that move on past days all the time (`st_<status>`, `*_last` pointers, `activated`): kept apart from `ANAMON#` so closed months stay cacheable; read on every request, never cached; `expires_at` 400 days after the month's last day |
//! | analytics month versions | `ANAMONVER` | `ALL` | - | - | `v_<yyyy-mm>`: `ADD 1` after every write to the month items of a month that has ended (a cancellation, an import, the rebuild), `epoch` (random, set once): the per-instance cache of closed months serves a month only while its version stands; kept by the rebuild |
//! | analytics week | `ANAWEEK#<yyyy-mm-dd of the Monday>` | `COHORTS` | - | - | `signups` of the week and `a_<cohort Monday>`: distinct users of each sign-up week active in this week (`ADD`); `expires_at` 400 days |
//! | analytics all-time totals | `ANATOTAL` | `ALL` | - | - | `ever_active`: distinct users ever active (`ADD`, once per user) |
//! | analytics user state | `ANAUSER#<user id>` | `STATE` | - | - | `signup_day`, first/last active day, last view/cart/order day, `activated`: the pointers behind the exact distinct counts of a window (moved by conditional update) |
//! | analytics user day | `ANAUSER#<user id>` | `DAY#<yyyy-mm-dd>` | - | - | the user's orders, spend cents, per-category purchases, searches (`ADD`), `last_order_at`; `expires_at` 400 days |
//! | analytics user marker | `ANAUSER#<user id>` | `MARK#<yyyy-mm-dd>#<what>` / `WEEK#<Monday>` | - | - | conditional put: the user counts once that day (active, view, cart, order) or week (cohort); `expires_at` 3 days after the later of the day and the write |
//! | analytics user query | `ANAUSER#<user id>` | `Q#<normalised query>` | - | - | `last_day` the user searched it (distinct queries of a window); `expires_at` 400 days after it |
//! | login day | `ANAUSER#<user id>` | `LOGIN#<yyyy-mm-dd>` | - | - | raw record of the days a user logged in (the rebuild reads it); `expires_at` 400 days |
//! | analytics query | `ANAQUERY#<normalised query>` | `LAST` / `MARK#<yyyy-mm-dd>` | - | - | `last_day` the query was searched; the day marker counts it once a day; `expires_at` |
//! | analytics search click marker | `ANASEARCH#<search id>` | `CLICKED` | - | - | conditional put: a search counts once in `searches with clicks`; `expires_at` 90 days |
//! | banner (issue 16) | `BANNER#<banner id>` | `BANNER` | - | - | prompt, product, size, blob key `banners/<banner id>.png`, model, author, targeting, schedule, priority, `is_published`, `version` (optimistic writes); no counters |
//! | published banner | `BANNERS#PUBLISHED` | `<banner id>` | - | - | a copy of the published banner record, put in the publish transaction and deleted in the unpublish one: the live-banner cache loads this one partition, never scans |
//! | published banners version | `BANNERS` | `VERSION` | - | - | `n`, `ADD` 1 in every publish/unpublish transaction: instances reload their live-banner cache when it moves |
//! | banner day counters | `BANNERSTAT#<banner id>#<shard 0-7, random per write>` | `<yyyy-mm-dd>` | - | - | `impressions`, `clicks` by `ADD`; banner details sum the 8 partitions; `expires_at` 400 days |
//! | generated promotion text | `PROMOTEXT#<yyyy-mm-dd>` | `<created_at>#<promotion id>` | - | - | audit of every generated text: inputs (cluster, category, product, context, user), prompt version and text, model, source (model/template), author |

pub fn user(id: &str) -> super::Key {
    super::Key::new(format!("USER#{id}"), "PROFILE")
}

pub fn user_preferences(id: &str) -> super::Key {
    super::Key::new(format!("USER#{id}"), "PREFERENCES")
}

pub const USERS_INDEX_PK: &str = "USERS";

pub fn users_index_sk(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

pub fn email_marker(email: &str) -> super::Key {
    super::Key::new(
        format!("UNIQUE#EMAIL#{}", email.trim().to_lowercase()),
        "UNIQUE",
    )
}

pub fn username_marker(username: &str) -> super::Key {
    super::Key::new(
        format!("UNIQUE#USERNAME#{}", username.trim().to_lowercase()),
        "UNIQUE",
    )
}

/// Failed logins naming one login name (by its hash) from one client address.
pub fn login_failures(login_hash: &str, address: &str) -> super::Key {
    super::Key::new(format!("LOGINFAIL#{login_hash}#{address}"), "CURRENT")
}

/// Failed logins from one client address, whatever login name they named.
pub fn login_failures_by_address(address: &str) -> super::Key {
    super::Key::new(format!("LOGINFAIL#ADDR#{address}"), "CURRENT")
}

pub fn stats(name: &str) -> super::Key {
    super::Key::new("STATS", name)
}

pub fn hourly_stats(hour: &str, name: &str) -> super::Key {
    super::Key::new(format!("STATS#HOUR#{hour}"), name)
}

pub fn catalog_version() -> super::Key {
    super::Key::new("CATALOG", "VERSION")
}

pub fn category(id: &str) -> super::Key {
    super::Key::new(format!("CATEGORY#{id}"), "CATEGORY")
}

pub const CATEGORIES_INDEX_PK: &str = "CATEGORIES";

pub fn categories_index_sk(name: &str, id: &str) -> String {
    format!("{}#{id}", name.to_lowercase())
}

pub fn category_slug_marker(slug: &str) -> super::Key {
    super::Key::new(format!("UNIQUE#CATSLUG#{slug}"), "UNIQUE")
}

pub fn product(id: &str) -> super::Key {
    super::Key::new(format!("PRODUCT#{id}"), "PRODUCT")
}

/// The product's counters (stock, views, orders): an item without index keys, so that an `ADD`
/// writes only the table.
pub fn product_counters(id: &str) -> super::Key {
    super::Key::new(format!("PRODUCT#{id}"), PRODUCT_COUNTERS_SK)
}

pub const PRODUCT_COUNTERS_SK: &str = "COUNTERS";

/// The product id in a `PRODUCT#<id>` partition key.
pub fn product_id_of(pk: &str) -> Option<&str> {
    pk.strip_prefix("PRODUCT#")
}

pub fn product_embedding(id: &str) -> super::Key {
    super::Key::new(format!("PRODUCT#{id}"), "EMBEDDING")
}

pub const PRODUCTS_INDEX_PK: &str = "PRODUCTS";

pub fn products_index_sk(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

pub fn category_products_pk(category_id: &str) -> String {
    format!("CATPRODUCTS#{category_id}")
}

pub fn product_code_marker(code: &str) -> super::Key {
    super::Key::new(
        format!("UNIQUE#PRODUCTCODE#{}", code.trim().to_lowercase()),
        "UNIQUE",
    )
}

pub const VIEWED_SK: &str = "VIEWED";

pub fn viewed_products(user_id: &str) -> super::Key {
    super::Key::new(format!("USER#{user_id}"), VIEWED_SK)
}

pub fn user_cart_pk(user_id: &str) -> String {
    format!("CART#U#{user_id}")
}

pub fn guest_cart_pk(cart_id: &str) -> String {
    format!("CART#G#{cart_id}")
}

pub const CART_LINE_PREFIX: &str = "LINE#";

pub fn cart_line_sk(product_id: &str) -> String {
    format!("{CART_LINE_PREFIX}{product_id}")
}

pub fn order(id: &str) -> super::Key {
    super::Key::new(format!("ORDER#{id}"), "ORDER")
}

pub fn user_orders_pk(user_id: &str) -> String {
    format!("USERORDERS#{user_id}")
}

pub const ALL_ORDERS_PK: &str = "ORDERS";

pub fn orders_index_sk(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

pub fn order_number_marker(number: &str) -> super::Key {
    super::Key::new(format!("UNIQUE#ORDERNO#{number}"), "UNIQUE")
}

pub fn idempotency(user_id: &str, key: &str) -> super::Key {
    super::Key::new(format!("IDEMPOTENCY#{user_id}#{key}"), "ORDER")
}

pub fn co_purchase(a: &str, b: &str) -> super::Key {
    super::Key::new(co_purchase_pk(a), b)
}

pub fn co_purchase_pk(a: &str) -> String {
    format!("COPURCHASE#{a}")
}

pub fn fbt_rules(product_id: &str) -> super::Key {
    super::Key::new(format!("PRODUCT#{product_id}"), "FBT")
}

pub fn search_log(id: &str) -> super::Key {
    super::Key::new(format!("SEARCH#{id}"), "SEARCH")
}

/// The clicks on the results of one logged search (no index keys, unlike the log itself).
pub fn search_clicks(id: &str) -> super::Key {
    super::Key::new(format!("SEARCH#{id}"), "CLICKS")
}

pub fn search_log_day_pk(day: &str) -> String {
    format!("SEARCHLOG#{day}")
}

pub const POPULAR_QUERIES_PK: &str = "POPULARQUERIES";

pub fn popular_query(normalised: &str) -> super::Key {
    super::Key::new(POPULAR_QUERIES_PK, normalised)
}

pub fn teacher(user_id: u64) -> super::Key {
    super::Key::new(format!("TEACHER#{user_id}"), "PROFILE")
}

/// A teacher's activity counts: no index keys (see the module docs).
pub fn teacher_activity(user_id: u64) -> super::Key {
    super::Key::new(format!("TEACHER#{user_id}"), "ACTIVITY")
}

/// The user id in a `TEACHER#<id>` partition key.
pub fn teacher_id_of(pk: &str) -> Option<u64> {
    pk.strip_prefix("TEACHER#")?.parse().ok()
}

pub const TEACHERS_INDEX_PK: &str = "TEACHERS";

/// Zero-padded so that the index sorts numerically.
pub fn user_id_sk(user_id: u64) -> String {
    format!("{user_id:020}")
}

pub fn cluster_assignment(user_id: u64, version: &str) -> super::Key {
    super::Key::new(format!("TEACHER#{user_id}"), format!("CLUSTER#{version}"))
}

pub fn cluster_assignments_pk(version: &str) -> String {
    format!("CLUSTERASSIGN#{version}")
}

pub fn clusters_current() -> super::Key {
    super::Key::new("CLUSTERS", "CURRENT")
}

pub const CLUSTERS_PK: &str = "CLUSTERS";
pub const CLUSTER_VERSION_PREFIX: &str = "VERSION#";

pub fn cluster_version(version: &str) -> super::Key {
    super::Key::new(CLUSTERS_PK, format!("{CLUSTER_VERSION_PREFIX}{version}"))
}

pub const CLASSIFY_EXAMPLES_PK: &str = "CLASSIFY#EXAMPLES";

pub fn classify_example(created_at: &str, id: &str) -> super::Key {
    super::Key::new(CLASSIFY_EXAMPLES_PK, format!("{created_at}#{id}"))
}

pub fn classify_model_current() -> super::Key {
    super::Key::new("CLASSIFY#MODEL", "CURRENT")
}

pub const VIDEO_SK: &str = "VIDEO";
pub const VIDEO_COUNTERS_SK: &str = "COUNTERS";

pub fn video(id: &str) -> super::Key {
    super::Key::new(format!("VIDEO#{id}"), VIDEO_SK)
}

/// A video's hot counters: no index keys (see the module docs).
pub fn video_counters(id: &str) -> super::Key {
    super::Key::new(format!("VIDEO#{id}"), VIDEO_COUNTERS_SK)
}

/// The video id in a `VIDEO#<id>` partition key.
pub fn video_id_of(pk: &str) -> Option<&str> {
    pk.strip_prefix("VIDEO#")
}

/// GSI1 partition of ready videos, newest first by `<created_at>#<id>`.
pub const READY_VIDEOS_PK: &str = "VIDEOS#READY";

pub fn videos_index_sk(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

/// GSI2 partition of the ready videos of one category.
pub fn category_videos_pk(category_id: &str) -> String {
    format!("VIDEOCAT#{category_id}")
}

/// Prefix of every per-user video interaction (and of the viewed-products item): one query on
/// the user's partition with it reads the whole feed profile.
pub const USER_VIDEO_PREFIX: &str = "V";
pub const VIDEO_LIKE_PREFIX: &str = "VLIKE#";
pub const VIDEO_SAVE_PREFIX: &str = "VSAVE#";
pub const VIDEO_WATCH_PREFIX: &str = "VWATCH#";

pub fn video_like(user_id: &str, video_id: &str) -> super::Key {
    super::Key::new(
        format!("USER#{user_id}"),
        format!("{VIDEO_LIKE_PREFIX}{video_id}"),
    )
}

pub fn video_save(user_id: &str, video_id: &str) -> super::Key {
    super::Key::new(
        format!("USER#{user_id}"),
        format!("{VIDEO_SAVE_PREFIX}{video_id}"),
    )
}

pub fn video_watch(user_id: &str, video_id: &str) -> super::Key {
    super::Key::new(
        format!("USER#{user_id}"),
        format!("{VIDEO_WATCH_PREFIX}{video_id}"),
    )
}

/// GSI1 partition of every per-user record about one video (deleted with the video).
pub fn video_refs_pk(video_id: &str) -> String {
    format!("VIDEOREFS#{video_id}")
}

/// GSI1 keys of a per-user record about a video: found again by video when it is deleted.
pub fn video_ref_index(video_id: &str, key: &super::Key) -> (String, String) {
    (video_refs_pk(video_id), format!("{}#{}", key.pk, key.sk))
}

pub fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// Shards of an hour's video activity, so that one hot hour is not one hot partition.
pub const VIDEO_ACTIVITY_SHARDS: u32 = 8;

pub fn video_activity_pk(hour: &str, shard: u32) -> String {
    format!("VIDEOACT#{hour}#{shard}")
}

pub fn trending_videos() -> super::Key {
    super::Key::new("VIDEOS", "TRENDING")
}

/// Shards of the interaction aggregates (and raw events), by actor: a user's history is one
/// partition's `begins_with`, and training reads the shards concurrently.
pub const INTERACTION_SHARDS: u32 = 16;

/// The shard of an actor (user id or `guest:<cart id>`).
pub fn interaction_shard(actor: &str) -> u32 {
    crate::reco::feed::fingerprint(actor) % INTERACTION_SHARDS
}

pub fn interaction_shard_pk(shard: u32) -> String {
    format!("INTERACT#{shard:02}")
}

/// Sort-key prefix of every aggregate of one actor.
pub fn interaction_sk_prefix(actor: &str) -> String {
    format!("{actor}#")
}

/// The aggregate of one (actor, product) pair.
pub fn interaction(actor: &str, product_id: &str) -> super::Key {
    super::Key::new(
        interaction_shard_pk(interaction_shard(actor)),
        format!("{actor}#{product_id}"),
    )
}

/// Shards of an hour's product activity, so that one hot hour is not one hot partition.
pub const PRODUCT_ACTIVITY_SHARDS: u32 = 8;

pub fn product_activity_pk(at: chrono::DateTime<chrono::Utc>, shard: u32) -> String {
    format!("PRODACT#{}#{shard}", at.format("%Y-%m-%dT%H"))
}

/// This hour's activity item of a product.
pub fn product_activity(at: chrono::DateTime<chrono::Utc>, product_id: &str) -> super::Key {
    let shard = crate::reco::feed::fingerprint(product_id) % PRODUCT_ACTIVITY_SHARDS;
    super::Key::new(product_activity_pk(at, shard), product_id)
}

pub fn interaction_event_pk(day: chrono::NaiveDate, shard: u32) -> String {
    format!("EVENT#{}#{shard:02}", day.format("%Y-%m-%d"))
}

/// A raw interaction event (unique by `event_id`).
pub fn interaction_event(
    at: chrono::DateTime<chrono::Utc>,
    actor: &str,
    event_id: &str,
) -> super::Key {
    super::Key::new(
        interaction_event_pk(at.date_naive(), interaction_shard(actor)),
        format!("{:013}#{event_id}", at.timestamp_millis()),
    )
}

/// A batch of a bulk import already written (see the table).
pub fn import_batch(kind: &str, file_hash: u64, batch: u64) -> super::Key {
    super::Key::new(
        format!("IMPORT#{kind}#{file_hash:016x}"),
        format!("BATCH#{batch:08}"),
    )
}
/// Partition of the ML configs and of the active-config pointers (a few dozen items).
pub const ML_CONFIG_PK: &str = "MLCONFIG";
pub const ML_CONFIG_SK_PREFIX: &str = "CONFIG#";
pub const ML_ACTIVE_SK_PREFIX: &str = "ACTIVE#";

pub fn ml_config(id: &str) -> super::Key {
    super::Key::new(ML_CONFIG_PK, format!("{ML_CONFIG_SK_PREFIX}{id}"))
}

/// The pointer to the active config of a model type.
pub fn ml_active_config(model_type: &str) -> super::Key {
    super::Key::new(ML_CONFIG_PK, format!("{ML_ACTIVE_SK_PREFIX}{model_type}"))
}

pub fn training_runs_pk(config_id: &str) -> String {
    format!("MLRUN#{config_id}")
}

/// One model's run within one training (training ids sort by start time).
pub fn training_run(config_id: &str, training_id: &str, model: &str) -> super::Key {
    super::Key::new(
        training_runs_pk(config_id),
        format!("{training_id}#{model}"),
    )
}

/// The one-run-at-a-time lock of the training job.
pub fn training_lock() -> super::Key {
    super::Key::new("MLTRAIN", "LOCK")
}

/// The pointer to the version of a recommendation model in force.
pub fn reco_model_current(model: &str) -> super::Key {
    super::Key::new(format!("RECOMODEL#{model}"), "CURRENT")
}

/// A served recommendation list (what track-click and attribution read).
pub fn rec_list(recommendation_id: &str) -> super::Key {
    super::Key::new(format!("RECLIST#{recommendation_id}"), "SERVED")
}

/// The marker of a counted click on `product_id` in a served list.
pub fn rec_click_marker(recommendation_id: &str, product_id: &str) -> super::Key {
    super::Key::new(
        format!("RECLIST#{recommendation_id}"),
        format!("CLICK#{product_id}"),
    )
}

/// The marker of a counted conversion of `product_id` in a served list.
pub fn rec_conversion_marker(recommendation_id: &str, product_id: &str) -> super::Key {
    super::Key::new(
        format!("RECLIST#{recommendation_id}"),
        format!("CONV#{product_id}"),
    )
}

/// The list in which a user last clicked a product (kept 24 hours).
pub fn rec_last_click(user_id: &str, product_id: &str) -> super::Key {
    super::Key::new(format!("RECLASTCLICK#{user_id}"), product_id)
}

/// Items a day's recommendation counters are spread over (per product, and for the totals).
pub const REC_ROLLUP_SHARDS: u32 = 8;

pub fn rec_product_rollup_pk(day: chrono::NaiveDate, shard: u32) -> String {
    format!("RECPERF#{}#{shard}", day.format("%Y-%m-%d"))
}

/// One of the up to [`REC_ROLLUP_SHARDS`] items of a product's recommendation counters of a day.
pub fn rec_product_rollup(day: chrono::NaiveDate, shard: u32, product_id: &str) -> super::Key {
    super::Key::new(rec_product_rollup_pk(day, shard), product_id)
}

/// One of the [`REC_ROLLUP_SHARDS`] items of a day's recommendation totals.
pub fn rec_day_totals(day: chrono::NaiveDate, shard: u32) -> super::Key {
    super::Key::new(
        format!("RECDAY#{}", day.format("%Y-%m-%d")),
        shard.to_string(),
    )
}

/// One of the [`REC_ROLLUP_SHARDS`] items of a month's recommendation totals (`month`: any day).
pub fn rec_month_totals(month: chrono::NaiveDate, shard: u32) -> super::Key {
    super::Key::new(
        format!("RECMON#{}", month.format("%Y-%m")),
        shard.to_string(),
    )
}

/// Partition prefix of the recommendation month totals (rebuilt by `analytics-rebuild`).
pub const REC_MONTH_PK_PREFIX: &str = "RECMON#";
/// Partition prefix of the recommendation day totals.
pub const REC_DAY_PK_PREFIX: &str = "RECDAY#";

/// Partition of the A/B experiment records and of the running-experiment locks (a few items).
pub const EXPERIMENTS_PK: &str = "EXPERIMENTS";
pub const EXPERIMENT_SK_PREFIX: &str = "EXP#";
pub const EXPERIMENT_RUNNING_SK_PREFIX: &str = "RUNNING#";

pub fn experiment(id: &str) -> super::Key {
    super::Key::new(EXPERIMENTS_PK, format!("{EXPERIMENT_SK_PREFIX}{id}"))
}

/// The lock naming the running experiment of a recommendation type (at most one).
pub fn experiment_running(recommendation_type: &str) -> super::Key {
    super::Key::new(
        EXPERIMENTS_PK,
        format!("{EXPERIMENT_RUNNING_SK_PREFIX}{recommendation_type}"),
    )
}

/// Shards of an arm's counters, so that a busy arm is not one hot item.
pub const EXPERIMENT_ARM_SHARDS: u32 = 8;

/// One shard of an arm's counters.
pub fn experiment_arm_counters(experiment_id: &str, arm: &str, shard: u32) -> super::Key {
    super::Key::new(format!("EXPARM#{experiment_id}#{arm}#{shard}"), "COUNTERS")
}

/// The marker of an actor counted in an experiment (its arm's distinct users).
pub fn experiment_participant(experiment_id: &str, actor: &str) -> super::Key {
    super::Key::new(format!("EXPUSER#{experiment_id}#{actor}"), "ASSIGNED")
}

/// A cached recommendation explanation; `cache_id` is [`crate::reco::explain::cache_id`].
pub fn explanation(cache_id: &str) -> super::Key {
    super::Key::new(format!("EXPLAIN#{cache_id}"), EXPLANATION_SK)
}

pub const EXPLANATION_SK: &str = "TEXT";

// --- User segments (spec 002 "User Segmentation Management"; `domain::segments`). ---

pub const SEGMENTS_PK: &str = "SEGMENTS";
pub const SEGMENT_SK_PREFIX: &str = "SEG#";

/// A segment record.
pub fn segment(id: &str) -> super::Key {
    super::Key::new(SEGMENTS_PK, format!("{SEGMENT_SK_PREFIX}{id}"))
}

/// The marker that makes segment names unique (case-insensitive).
pub fn segment_name_marker(name: &str) -> super::Key {
    super::Key::new(
        format!("UNIQUE#SEGMENTNAME#{}", name.trim().to_lowercase()),
        "UNIQUE",
    )
}

/// A generation number as it sorts in keys (20 digits).
pub fn generation_sk(generation: u64) -> String {
    format!("{generation:020}")
}

pub fn segment_generations_pk(segment_id: &str) -> String {
    format!("SEGGEN#{segment_id}")
}

/// The status record of one membership generation of a segment.
pub fn segment_generation(segment_id: &str, generation: u64) -> super::Key {
    super::Key::new(
        segment_generations_pk(segment_id),
        generation_sk(generation),
    )
}

/// The partition of the members of one generation of a segment.
pub fn segment_members_pk(segment_id: &str, generation: u64) -> String {
    format!("SEGMEMBER#{segment_id}#{}", generation_sk(generation))
}

pub fn segment_member(segment_id: &str, generation: u64, user_id: &str) -> super::Key {
    super::Key::new(segment_members_pk(segment_id, generation), user_id)
}

/// The member counter of one generation of a segment.
pub fn segment_member_count(segment_id: &str, generation: u64) -> super::Key {
    super::Key::new(
        format!("SEGCOUNT#{segment_id}#{}", generation_sk(generation)),
        "COUNT",
    )
}

pub fn segment_manual_pk(segment_id: &str) -> String {
    format!("SEGMANUAL#{segment_id}")
}

/// A manual member of a segment (kept by every recompute).
pub fn segment_manual(segment_id: &str, user_id: &str) -> super::Key {
    super::Key::new(segment_manual_pk(segment_id), user_id)
}

pub fn user_segments_pk(user_id: &str) -> String {
    format!("USERSEG#{user_id}")
}

/// The reverse-index entry of a user's membership in one generation of a segment.
pub fn user_segment(user_id: &str, segment_id: &str, generation: u64) -> super::Key {
    super::Key::new(
        user_segments_pk(user_id),
        format!("{segment_id}#{}", generation_sk(generation)),
    )
}

/// Shards of the user-feature partitions (the refresh job reads them in parallel).
pub const USER_FEATURE_SHARDS: u32 = 16;

pub fn user_feature_shard_pk(shard: u32) -> String {
    format!("USERFEAT#{shard:02}")
}

/// The feature partition of a user (same shard function as the interaction log).
pub fn user_feature_pk(user_id: &str) -> String {
    user_feature_shard_pk(crate::reco::feed::fingerprint(user_id) % USER_FEATURE_SHARDS)
}

/// Sort-key prefix of every feature item of one user.
pub fn user_feature_prefix(user_id: &str) -> String {
    format!("{user_id}#")
}

/// A user's order figures (recency, frequency, monetary).
pub fn user_rfm(user_id: &str) -> super::Key {
    super::Key::new(user_feature_pk(user_id), format!("{user_id}#RFM"))
}

/// A user's profile facts (demographics, interests).
pub fn user_profile_facts(user_id: &str) -> super::Key {
    super::Key::new(user_feature_pk(user_id), format!("{user_id}#PROFILE"))
}

/// A user's event counts of one day, by kind and device.
pub fn user_day_events(user_id: &str, day: chrono::NaiveDate) -> super::Key {
    super::Key::new(
        user_feature_pk(user_id),
        format!("{user_id}#EV#{}", day.format("%Y-%m-%d")),
    )
}

/// Shards of a segment's day rollup (each order picks one at random; readers sum a day's).
pub const SEGMENT_DAY_SHARDS: u32 = 8;

/// The partition of a segment's daily order rollups (sort key `<yyyy-mm-dd>#<shard>`, so a
/// sort-key range `>= <yyyy-mm-dd>` takes every shard of that day and the days after it).
pub fn segment_days_pk(segment_id: &str) -> String {
    format!("SEGPERF#{segment_id}")
}

/// One shard of the daily order rollup of a segment's members.
pub fn segment_day(segment_id: &str, day: chrono::NaiveDate, shard: u32) -> super::Key {
    super::Key::new(
        segment_days_pk(segment_id),
        format!("{}#{shard}", day.format("%Y-%m-%d")),
    )
}

/// Shards of the personalization rollups (each write picks one at random; readers sum them).
pub const PERSO_SHARDS: u32 = 4;

/// A segment's content rollup partition of one day and shard.
pub fn perso_segment_content_pk(segment_id: &str, day: chrono::NaiveDate, shard: u32) -> String {
    format!("PERSOSEG#{segment_id}#{}#{shard}", day.format("%Y-%m-%d"))
}

/// A segment's counters of one content, day and shard.
pub fn perso_segment_content(
    segment_id: &str,
    day: chrono::NaiveDate,
    shard: u32,
    content_id: &str,
) -> super::Key {
    super::Key::new(perso_segment_content_pk(segment_id, day, shard), content_id)
}

/// One content's per-segment counters of one day and shard.
pub fn perso_content(day: chrono::NaiveDate, shard: u32, content_id: &str) -> super::Key {
    super::Key::new(
        format!("PERSOCONT#{}#{shard}", day.format("%Y-%m-%d")),
        content_id,
    )
}

/// One shard of a day's per-segment engagement totals.
pub fn perso_totals(day: chrono::NaiveDate, shard: u32) -> super::Key {
    super::Key::new(
        format!("PERSOTOT#{}", day.format("%Y-%m-%d")),
        shard.to_string(),
    )
}

/// A spec 000 cache entry (`user:<id>:segments`, ...).
pub fn perso_cache(cache_key: &str) -> super::Key {
    super::Key::new(format!("PERSOCACHE#{cache_key}"), "CACHE")
}
/// Items a day's analytics totals are spread over (every request of the shop adds to them).
pub const ANALYTICS_SHARDS: u32 = 8;

fn ymd(day: chrono::NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// One of the [`ANALYTICS_SHARDS`] items of a day's analytics totals.
pub fn analytics_day(day: chrono::NaiveDate, shard: u32) -> super::Key {
    super::Key::new(format!("ANADAY#{}", ymd(day)), shard.to_string())
}

/// One of the [`ANALYTICS_SHARDS`] items of a day's sales per product.
pub fn analytics_products_day(day: chrono::NaiveDate, shard: u32) -> super::Key {
    super::Key::new(format!("ANAPROD#{}", ymd(day)), shard.to_string())
}

/// `yyyy-mm` of the month of `day`.
fn ym(day: chrono::NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

/// One of the [`ANALYTICS_SHARDS`] items of a month's analytics totals (`month`: any day of it).
pub fn analytics_month(month: chrono::NaiveDate, shard: u32) -> super::Key {
    super::Key::new(format!("ANAMON#{}", ym(month)), shard.to_string())
}

/// One of the [`ANALYTICS_SHARDS`] items of a month's moving counters (statuses, last-day
/// pointers, activations), never cached.
pub fn analytics_month_moving(month: chrono::NaiveDate, shard: u32) -> super::Key {
    super::Key::new(format!("ANAMONM#{}", ym(month)), shard.to_string())
}

/// One of the [`ANALYTICS_SHARDS`] items of a month's sales per product.
pub fn analytics_products_month(month: chrono::NaiveDate, shard: u32) -> super::Key {
    super::Key::new(format!("ANAPMON#{}", ym(month)), shard.to_string())
}

/// The versions of the month rollups (`v_<yyyy-mm>`, `ADD`ed after each write to an ended
/// month) and the table's cache `epoch`: what the per-instance cache of closed months checks.
/// Not under an analytics prefix: the rebuild keeps it (versions only grow).
pub fn analytics_month_versions() -> super::Key {
    super::Key::new("ANAMONVER", "ALL")
}

/// The shard of a product's month sales: a fixed hash (FNV-1a) of its id.
pub fn analytics_product_shard(product_id: &str) -> u32 {
    let hash = product_id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % ANALYTICS_SHARDS
}

/// The cohort counters of the week starting on `monday`.
pub fn analytics_week(monday: chrono::NaiveDate) -> super::Key {
    super::Key::new(format!("ANAWEEK#{}", ymd(monday)), "COHORTS")
}

pub fn analytics_totals() -> super::Key {
    super::Key::new("ANATOTAL", "ALL")
}

pub fn analytics_user_pk(user_id: &str) -> String {
    format!("ANAUSER#{user_id}")
}

pub fn analytics_user_state(user_id: &str) -> super::Key {
    super::Key::new(analytics_user_pk(user_id), "STATE")
}

pub const ANALYTICS_USER_DAY_PREFIX: &str = "DAY#";

pub fn analytics_user_day(user_id: &str, day: chrono::NaiveDate) -> super::Key {
    super::Key::new(
        analytics_user_pk(user_id),
        format!("{ANALYTICS_USER_DAY_PREFIX}{}", ymd(day)),
    )
}

/// The marker of a user counted once on `day` for `what` (`active`, `view`, `cart`, `order`).
pub fn analytics_user_mark(user_id: &str, day: chrono::NaiveDate, what: &str) -> super::Key {
    super::Key::new(
        analytics_user_pk(user_id),
        format!("MARK#{}#{what}", ymd(day)),
    )
}

/// The marker of a user counted once in the cohort table for the week starting on `monday`.
pub fn analytics_user_week_mark(user_id: &str, monday: chrono::NaiveDate) -> super::Key {
    super::Key::new(analytics_user_pk(user_id), format!("WEEK#{}", ymd(monday)))
}

pub fn analytics_user_query(user_id: &str, query: &str) -> super::Key {
    super::Key::new(analytics_user_pk(user_id), format!("Q#{query}"))
}

pub const LOGIN_DAY_PREFIX: &str = "LOGIN#";

pub fn login_day(user_id: &str, day: chrono::NaiveDate) -> super::Key {
    super::Key::new(
        analytics_user_pk(user_id),
        format!("{LOGIN_DAY_PREFIX}{}", ymd(day)),
    )
}

pub fn analytics_query(query: &str) -> super::Key {
    super::Key::new(format!("ANAQUERY#{query}"), "LAST")
}

pub fn analytics_query_mark(query: &str, day: chrono::NaiveDate) -> super::Key {
    super::Key::new(format!("ANAQUERY#{query}"), format!("MARK#{}", ymd(day)))
}

pub fn analytics_search_clicked(search_id: &str) -> super::Key {
    super::Key::new(format!("ANASEARCH#{search_id}"), "CLICKED")
}

/// Partition prefixes of every item the analytics rebuild recomputes (login days excepted).
pub const ANALYTICS_PK_PREFIXES: [&str; 10] = [
    "ANADAY#",
    "ANAPROD#",
    "ANAMON#",
    "ANAMONM#",
    "ANAPMON#",
    "ANAWEEK#",
    "ANATOTAL",
    "ANAUSER#",
    "ANAQUERY#",
    "ANASEARCH#",
];

// --- Promotions and banners (issue 16; `domain::promotions`). ---

/// A banner record.
pub fn banner(id: &str) -> super::Key {
    super::Key::new(format!("BANNER#{id}"), "BANNER")
}

/// The partition of the published banners' copies.
pub const PUBLISHED_BANNERS_PK: &str = "BANNERS#PUBLISHED";

/// The copy of a published banner.
pub fn published_banner(id: &str) -> super::Key {
    super::Key::new(PUBLISHED_BANNERS_PK, id)
}

/// The version of the published-banner set (moves on every publish and unpublish).
pub fn banners_version() -> super::Key {
    super::Key::new("BANNERS", "VERSION")
}

/// Shards of a banner's day counters (each write picks one at random; readers sum them).
pub const BANNER_STAT_SHARDS: u32 = 8;

/// The partition of one shard of a banner's day counters.
pub fn banner_stats_pk(banner_id: &str, shard: u32) -> String {
    format!("BANNERSTAT#{banner_id}#{shard}")
}

/// One shard of a banner's counters of one day.
pub fn banner_stats(banner_id: &str, shard: u32, day: chrono::NaiveDate) -> super::Key {
    super::Key::new(banner_stats_pk(banner_id, shard), ymd(day))
}

/// The partition of one day's generated promotion texts.
pub fn promotion_texts_pk(day: chrono::NaiveDate) -> String {
    format!("PROMOTEXT#{}", ymd(day))
}

/// One generated promotion text (audit).
pub fn promotion_text(day: chrono::NaiveDate, created_at: &str, id: &str) -> super::Key {
    super::Key::new(promotion_texts_pk(day), format!("{created_at}#{id}"))
}
