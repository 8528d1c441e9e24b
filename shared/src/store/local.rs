//! Embedded implementation on redb. See the module docs of `store`.
//!
//! Layout: one redb database (a file, or redb's in-memory backend) with three tables:
//! - `main`: `(PK, SK)` -> the item as JSON bytes (the item includes its keys);
//! - `gsi1` / `gsi2`: `(GSIxPK, GSIxSK, PK, SK)` -> `()`, one entry for every item that has both
//!   attributes of that index, kept in step with `main` inside the same write transaction.
//!
//! Keys are stored as byte strings (UTF-8), so tuples order exactly like DynamoDB orders strings
//! (by bytes). Every write is one redb write transaction (serialised by redb), so conditions are
//! evaluated atomically with the write they guard. Expired items (`expires_at` <= now) stay in the
//! tables until overwritten, deleted or purged ([`LocalStore::purge_expired`]) but are invisible to
//! every reader and to conditions.
//!
//! The helpers [`eval_condition`], [`apply_update`] and [`validate_item`] are the reference
//! semantics; the DynamoDB implementation reuses them where it has to evaluate in code.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redb::backends::InMemoryBackend;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction,
};
use serde_json::{Number, Value};

use super::{
    Cmp, Condition, GSI1PK, GSI1SK, GSI2PK, GSI2SK, Index, Item, ItemStore, Key, PK, Page, Query,
    SK, Scan, SortKey, StoreError, StoreResult, TxOp, Update, is_expired, now_epoch,
};

type MainKey<'a> = (&'a [u8], &'a [u8]);
type IndexKey<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8]);

const MAIN: TableDefinition<MainKey<'static>, &[u8]> = TableDefinition::new("main");
const GSI1: TableDefinition<IndexKey<'static>, ()> = TableDefinition::new("gsi1");
const GSI2: TableDefinition<IndexKey<'static>, ()> = TableDefinition::new("gsi2");

/// DynamoDB's limits, kept here so that both backends reject the same requests.
pub(crate) const MAX_ITEM_BYTES: usize = 400 * 1024;
pub(crate) const MAX_PK_BYTES: usize = 2048;
pub(crate) const MAX_SK_BYTES: usize = 1024;
pub(crate) const MAX_TX_OPS: usize = 100;

/// The embedded store: a redb file, or redb's in-memory backend.
pub struct LocalStore {
    db: Arc<Database>,
    backend: &'static str,
    cache: DecodedCache,
    commits: AtomicU64,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("backend", &self.backend)
            .finish()
    }
}

fn backend_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("redb: {e}"))
}

impl LocalStore {
    /// Opens (or creates) the store in one file; every commit is durable when it returns.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let db = Database::create(path).map_err(backend_err)?;
        Self::init(db, "local")
    }

    /// A fresh store in memory (gone when dropped).
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .map_err(backend_err)?;
        Self::init(db, "memory")
    }

    fn init(db: Database, backend: &'static str) -> Result<Self, StoreError> {
        let txn = db.begin_write().map_err(backend_err)?;
        {
            txn.open_table(MAIN).map_err(backend_err)?;
            txn.open_table(GSI1).map_err(backend_err)?;
            txn.open_table(GSI2).map_err(backend_err)?;
        }
        txn.commit().map_err(backend_err)?;
        Ok(Self {
            db: Arc::new(db),
            backend,
            cache: DecodedCache::default(),
            commits: AtomicU64::new(0),
        })
    }

    /// Physically deletes every expired item (they are already invisible); returns how many.
    pub fn purge_expired(&self) -> StoreResult<usize> {
        let now = now_epoch();
        self.write(|t| {
            let mut expired = Vec::new();
            for entry in t.main.iter().map_err(backend_err)? {
                let (_, v) = entry.map_err(backend_err)?;
                let item = decode(v.value())?;
                if is_expired(&item, now) {
                    expired.push(item);
                }
            }
            for item in &expired {
                t.erase(item)?;
            }
            Ok(expired.len())
        })
    }

    /// Runs `f` in one write transaction: committed when it returns `Ok`, aborted otherwise.
    fn write<T>(&self, f: impl FnOnce(&mut Tables<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut txn = self.db.begin_write().map_err(backend_err)?;
        if self.backend == "memory" {
            // Nothing to persist; a durable commit now and then lets redb reuse freed pages.
            let n = self.commits.fetch_add(1, AtomicOrdering::Relaxed);
            if n % 64 != 63 {
                txn.set_durability(Durability::None).map_err(backend_err)?;
            }
        }
        let result = {
            let mut tables = Tables::open(&txn)?;
            f(&mut tables)
        };
        match result {
            Ok(v) => {
                txn.commit().map_err(backend_err)?;
                Ok(v)
            }
            Err(e) => {
                txn.abort().map_err(backend_err)?;
                Err(e)
            }
        }
    }

    fn read_main(&self) -> StoreResult<redb::ReadOnlyTable<MainKey<'static>, &'static [u8]>> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        txn.open_table(MAIN).map_err(backend_err)
    }
}

/// The open tables of one write transaction.
struct Tables<'txn> {
    main: Table<'txn, MainKey<'static>, &'static [u8]>,
    gsi1: Table<'txn, IndexKey<'static>, ()>,
    gsi2: Table<'txn, IndexKey<'static>, ()>,
}

impl<'txn> Tables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> StoreResult<Self> {
        Ok(Self {
            main: txn.open_table(MAIN).map_err(backend_err)?,
            gsi1: txn.open_table(GSI1).map_err(backend_err)?,
            gsi2: txn.open_table(GSI2).map_err(backend_err)?,
        })
    }

    /// The stored item, expired or not.
    fn load(&self, key: &Key) -> StoreResult<Option<Item>> {
        match self
            .main
            .get((key.pk.as_bytes(), key.sk.as_bytes()))
            .map_err(backend_err)?
        {
            Some(v) => decode(v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `new` (already validated), replacing `old` (the stored item at that key, if any).
    fn store(&mut self, old: Option<&Item>, new: &Item, bytes: &[u8]) -> StoreResult<()> {
        let key = key_of(new)?;
        self.main
            .insert((key.pk.as_bytes(), key.sk.as_bytes()), bytes)
            .map_err(backend_err)?;
        for (index, table) in [(Index::Gsi1, &mut self.gsi1), (Index::Gsi2, &mut self.gsi2)] {
            let before = old.and_then(|o| index_keys(o, index));
            let after = index_keys(new, index);
            if before == after {
                continue;
            }
            if let Some((ipk, isk)) = before {
                table
                    .remove((
                        ipk.as_bytes(),
                        isk.as_bytes(),
                        key.pk.as_bytes(),
                        key.sk.as_bytes(),
                    ))
                    .map_err(backend_err)?;
            }
            if let Some((ipk, isk)) = after {
                table
                    .insert(
                        (
                            ipk.as_bytes(),
                            isk.as_bytes(),
                            key.pk.as_bytes(),
                            key.sk.as_bytes(),
                        ),
                        (),
                    )
                    .map_err(backend_err)?;
            }
        }
        Ok(())
    }

    /// Removes a stored item and its index entries.
    fn erase(&mut self, old: &Item) -> StoreResult<()> {
        let key = key_of(old)?;
        self.main
            .remove((key.pk.as_bytes(), key.sk.as_bytes()))
            .map_err(backend_err)?;
        for (index, table) in [(Index::Gsi1, &mut self.gsi1), (Index::Gsi2, &mut self.gsi2)] {
            if let Some((ipk, isk)) = index_keys(old, index) {
                table
                    .remove((
                        ipk.as_bytes(),
                        isk.as_bytes(),
                        key.pk.as_bytes(),
                        key.sk.as_bytes(),
                    ))
                    .map_err(backend_err)?;
            }
        }
        Ok(())
    }
}

/// Decoded items by a 128-bit hash of their stored bytes, for the request-path reads (`get`,
/// `batch_get`, `query`). Decoding allocates every attribute name and string; cloning a decoded
/// item costs about half as much (measured: a query of 100 user-sized items drops from ~235 to
/// ~150 µs). Keyed by content, it can never be stale: a write stores new bytes under a new hash.
/// Bounded: emptied when full. Scans bypass it.
#[derive(Default)]
struct DecodedCache {
    map: Mutex<HashMap<u128, Arc<Item>>>,
}

const CACHE_ENTRIES: usize = 4096;
/// Items of one query that go through the cache (see [`LocalStore::decode_read`]).
const CACHED_PER_READ: usize = 100;

impl DecodedCache {
    fn decode(&self, bytes: &[u8]) -> StoreResult<Item> {
        let hash = xxhash_rust::xxh3::xxh3_128(bytes);
        let hit = match self.map.lock() {
            Ok(map) => map.get(&hash).cloned(),
            Err(_) => None,
        };
        if let Some(item) = hit {
            return Ok(Item::clone(&item));
        }
        let item = decode(bytes)?;
        let evicted = match self.map.lock() {
            Ok(mut map) => {
                let evicted = (map.len() >= CACHE_ENTRIES).then(|| std::mem::take(&mut *map));
                map.insert(hash, Arc::new(item.clone()));
                evicted
            }
            Err(_) => None,
        };
        // Freed after the lock is released: dropping thousands of items takes milliseconds, and
        // every read of every request would wait for it.
        drop(evicted);
        Ok(item)
    }
}

/// Where a page without a limit stops: DynamoDB ends a query or scan page after 1 MB of data
/// read; the local store ends it once the live items it has read reach this many bytes as
/// [`item_size`] measures them (whole items, also for a projected read: DynamoDB counts what it
/// reads, not what it returns). Expired items, which DynamoDB would count too, are not counted.
pub(crate) const PAGE_BYTES: usize = 1024 * 1024;

/// The size of an item as DynamoDB counts it, approximately: the UTF-8 length of every attribute
/// name plus its value's size. Strings count their UTF-8 bytes; numbers `1 + digits / 2` (DynamoDB
/// stores about two significant digits per byte); booleans and nulls 1; lists and maps 3 bytes
/// plus 1 per element plus the elements (and, for maps, their names). DynamoDB's own figure for
/// numbers with trailing zeros or fractions differs by a byte or two; that is the approximation.
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(n) => number_size(&n.to_string()),
        Value::String(s) => s.len(),
        Value::Array(a) => 3 + a.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        Value::Object(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
    }
}

/// DynamoDB's size of a number from its decimal text: about one byte per two digits, plus one.
fn number_size(text: &str) -> usize {
    1 + text.bytes().filter(u8::is_ascii_digit).count().div_ceil(2)
}

fn decode(bytes: &[u8]) -> StoreResult<Item> {
    codec::decode(bytes).ok_or_else(|| StoreError::Backend("corrupt stored item".into()))
}

fn encode(item: &Item) -> StoreResult<Vec<u8>> {
    let bytes = codec::encode(item)?;
    if bytes.len() > MAX_ITEM_BYTES {
        return Err(StoreError::Invalid(format!(
            "item is {} bytes, more than the {MAX_ITEM_BYTES} allowed",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The stored form of an item: a small tagged binary encoding of the JSON object, about twice
/// as fast to decode as JSON text and three times as fast to encode (measured; it matters for
/// queries of many items). Values that start with `{` are read as JSON text.
///
/// Layout (version 1): `0x01`, then the object: `u32` count, then per attribute the name
/// (`u32` length + UTF-8) and the value: tag `0` null, `1` false, `2` true, `3` i64, `4` u64,
/// `5` f64 (8 bytes LE each), `6` string (`u32` length + UTF-8), `7` array (`u32` count +
/// values), `8` object (as above). Lengths are little-endian.
mod codec {
    use serde_json::{Map, Number, Value};

    use super::{Item, StoreError, StoreResult};

    const VERSION: u8 = 1;
    /// DynamoDB allows 32 levels of nesting.
    const MAX_DEPTH: usize = 32;

    pub(super) fn encode(item: &Item) -> StoreResult<Vec<u8>> {
        let mut out = Vec::with_capacity(256);
        out.push(VERSION);
        map(&mut out, item, 0)?;
        Ok(out)
    }

    pub(super) fn decode(bytes: &[u8]) -> Option<Item> {
        decode_keeping(bytes, None)
    }

    /// [`super::item_size`] of the stored item, read off its bytes without building it.
    pub(super) fn dynamo_size(bytes: &[u8]) -> Option<usize> {
        match bytes.split_first()? {
            (&VERSION, rest) => {
                let mut r = Reader { rest };
                let mut total = 0;
                for _ in 0..r.len()? {
                    total += r.str()?.len() + r.value_size(0)?;
                }
                Some(total)
            }
            (b'{', _) => decode(bytes).map(|item| super::item_size(&item)),
            _ => None,
        }
    }

    /// Decodes only the top-level attributes named in `keep`; the others are stepped over
    /// without being built (no allocation for them).
    pub(super) fn decode_projected(bytes: &[u8], keep: &[&str]) -> Option<Item> {
        decode_keeping(bytes, Some(keep))
    }

    fn decode_keeping(bytes: &[u8], keep: Option<&[&str]>) -> Option<Item> {
        match bytes.split_first()? {
            (&VERSION, rest) => {
                let mut r = Reader { rest };
                let item = r.map(0, keep)?;
                r.rest.is_empty().then_some(item)
            }
            (b'{', _) => {
                let mut item: Item = serde_json::from_slice(bytes).ok()?;
                if let Some(keep) = keep {
                    item.retain(|k, _| keep.contains(&k.as_str()));
                }
                Some(item)
            }
            _ => None,
        }
    }

    fn len(out: &mut Vec<u8>, n: usize) -> StoreResult<()> {
        let n = u32::try_from(n).map_err(|_| StoreError::Invalid("item too large".into()))?;
        out.extend_from_slice(&n.to_le_bytes());
        Ok(())
    }

    fn string(out: &mut Vec<u8>, s: &str) -> StoreResult<()> {
        len(out, s.len())?;
        out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn map(out: &mut Vec<u8>, m: &Map<String, Value>, depth: usize) -> StoreResult<()> {
        len(out, m.len())?;
        for (k, v) in m {
            string(out, k)?;
            value(out, v, depth)?;
        }
        Ok(())
    }

    fn value(out: &mut Vec<u8>, v: &Value, depth: usize) -> StoreResult<()> {
        if depth > MAX_DEPTH {
            return Err(StoreError::Invalid(format!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        match v {
            Value::Null => out.push(0),
            Value::Bool(false) => out.push(1),
            Value::Bool(true) => out.push(2),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    out.push(3);
                    out.extend_from_slice(&i.to_le_bytes());
                } else if let Some(u) = n.as_u64() {
                    out.push(4);
                    out.extend_from_slice(&u.to_le_bytes());
                } else {
                    let f = n
                        .as_f64()
                        .ok_or_else(|| StoreError::Invalid("bad number".into()))?;
                    out.push(5);
                    out.extend_from_slice(&f.to_le_bytes());
                }
            }
            Value::String(s) => {
                out.push(6);
                string(out, s)?;
            }
            Value::Array(a) => {
                out.push(7);
                len(out, a.len())?;
                for x in a {
                    value(out, x, depth + 1)?;
                }
            }
            Value::Object(m) => {
                out.push(8);
                map(out, m, depth + 1)?;
            }
        }
        Ok(())
    }

    struct Reader<'a> {
        rest: &'a [u8],
    }

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.rest.len() < n {
                return None;
            }
            let (head, tail) = self.rest.split_at(n);
            self.rest = tail;
            Some(head)
        }

        fn u8(&mut self) -> Option<u8> {
            Some(self.take(1)?[0])
        }

        fn bytes8(&mut self) -> Option<[u8; 8]> {
            self.take(8)?.try_into().ok()
        }

        fn len(&mut self) -> Option<usize> {
            let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
            // Every element takes at least one byte: a bound on allocations from bad input.
            (n <= self.rest.len()).then_some(n)
        }

        fn string(&mut self) -> Option<String> {
            self.str().map(str::to_owned)
        }

        fn str(&mut self) -> Option<&'a str> {
            let n = self.len()?;
            std::str::from_utf8(self.take(n)?).ok()
        }

        /// Steps over one value, checking its shape as [`Self::value`] would.
        fn skip(&mut self, depth: usize) -> Option<()> {
            if depth > MAX_DEPTH + 1 {
                return None;
            }
            match self.u8()? {
                0..=2 => {}
                3..=5 => {
                    self.take(8)?;
                }
                6 => {
                    let n = self.len()?;
                    self.take(n)?;
                }
                7 => {
                    for _ in 0..self.len()? {
                        self.skip(depth + 1)?;
                    }
                }
                8 => {
                    for _ in 0..self.len()? {
                        let n = self.len()?;
                        self.take(n)?;
                        self.skip(depth + 1)?;
                    }
                }
                _ => return None,
            }
            Some(())
        }

        /// Steps over one value, returning its size as [`super::value_size`] counts it.
        fn value_size(&mut self, depth: usize) -> Option<usize> {
            if depth > MAX_DEPTH + 1 {
                return None;
            }
            Some(match self.u8()? {
                0..=2 => 1,
                3 => super::number_size(&i64::from_le_bytes(self.bytes8()?).to_string()),
                4 => super::number_size(&u64::from_le_bytes(self.bytes8()?).to_string()),
                5 => {
                    let f = Number::from_f64(f64::from_le_bytes(self.bytes8()?))?;
                    super::number_size(&f.to_string())
                }
                6 => self.str()?.len(),
                7 => {
                    let mut total = 3;
                    for _ in 0..self.len()? {
                        total += 1 + self.value_size(depth + 1)?;
                    }
                    total
                }
                8 => {
                    let mut total = 3;
                    for _ in 0..self.len()? {
                        total += 1 + self.str()?.len() + self.value_size(depth + 1)?;
                    }
                    total
                }
                _ => return None,
            })
        }

        /// A map; with `keep`, only those keys (the other values are skipped, not built).
        fn map(&mut self, depth: usize, keep: Option<&[&str]>) -> Option<Map<String, Value>> {
            let n = self.len()?;
            let mut entries = Vec::with_capacity(keep.map_or(n, |k| k.len().min(n)));
            for _ in 0..n {
                let k = self.str()?;
                if keep.is_none_or(|keep| keep.contains(&k)) {
                    entries.push((k.to_owned(), self.value(depth)?));
                } else {
                    self.skip(depth)?;
                }
            }
            // Keys were written in order: collecting builds the map in bulk.
            Some(entries.into_iter().collect())
        }

        fn value(&mut self, depth: usize) -> Option<Value> {
            if depth > MAX_DEPTH + 1 {
                return None;
            }
            Some(match self.u8()? {
                0 => Value::Null,
                1 => Value::Bool(false),
                2 => Value::Bool(true),
                3 => Value::Number(i64::from_le_bytes(self.bytes8()?).into()),
                4 => Value::Number(u64::from_le_bytes(self.bytes8()?).into()),
                5 => Value::Number(Number::from_f64(f64::from_le_bytes(self.bytes8()?))?),
                6 => Value::String(self.string()?),
                7 => {
                    let n = self.len()?;
                    let mut a = Vec::with_capacity(n);
                    for _ in 0..n {
                        a.push(self.value(depth + 1)?);
                    }
                    Value::Array(a)
                }
                8 => Value::Object(self.map(depth + 1, None)?),
                _ => return None,
            })
        }
    }
}

fn key_of(item: &Item) -> StoreResult<Key> {
    Key::of(item).ok_or_else(|| StoreError::Invalid("item needs string PK and SK".into()))
}

/// The (partition, sort) values of `item` in `index`, when it has both (as strings).
fn index_keys(item: &Item, index: Index) -> Option<(&str, &str)> {
    let (p, s) = index.key_attrs();
    Some((item.get(p)?.as_str()?, item.get(s)?.as_str()?))
}

/// A key-only item.
pub(crate) fn key_item(key: &Key) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), Value::String(key.pk.clone()));
    item.insert(SK.into(), Value::String(key.sk.clone()));
    item
}

pub(crate) fn validate_key(key: &Key) -> StoreResult<()> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::Invalid("PK and SK must not be empty".into()));
    }
    if key.pk.len() > MAX_PK_BYTES || key.sk.len() > MAX_SK_BYTES {
        return Err(StoreError::Invalid("PK or SK is too long".into()));
    }
    Ok(())
}

/// Checks what DynamoDB checks on the single table: string, non-empty `PK`/`SK` within the key
/// size limits, and index key attributes (when present) non-empty strings. Returns the key.
pub(crate) fn validate_item(item: &Item) -> StoreResult<Key> {
    let key = key_of(item)?;
    validate_key(&key)?;
    for attr in [GSI1PK, GSI1SK, GSI2PK, GSI2SK] {
        match item.get(attr) {
            None => {}
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => {
                return Err(StoreError::Invalid(format!(
                    "{attr} must be a non-empty string"
                )));
            }
        }
    }
    Ok(key)
}

/// Evaluates a condition on the live view of an item (`None` when absent or expired).
pub(crate) fn eval_condition(cond: &Condition, item: Option<&Item>) -> bool {
    match cond {
        Condition::ItemExists => item.is_some(),
        Condition::ItemNotExists => item.is_none(),
        Condition::AttrExists(a) => item.is_some_and(|i| i.contains_key(a)),
        Condition::AttrNotExists(a) => !item.is_some_and(|i| i.contains_key(a)),
        Condition::Compare { attr, op, value } => item
            .and_then(|i| i.get(attr))
            .is_some_and(|v| compare_values(v, *op, value)),
        Condition::And(cs) => cs.iter().all(|c| eval_condition(c, item)),
        Condition::Or(cs) => cs.iter().any(|c| eval_condition(c, item)),
    }
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// DynamoDB comparison: numbers numerically, strings by bytes; `=`/`<>` also on other values of
/// the same type; anything else (different types) is false.
pub(crate) fn compare_values(a: &Value, op: Cmp, b: &Value) -> bool {
    let ord = match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => None,
    };
    match (ord, op) {
        (Some(o), Cmp::Eq) => o == Ordering::Equal,
        (Some(o), Cmp::Ne) => o != Ordering::Equal,
        (Some(o), Cmp::Lt) => o == Ordering::Less,
        (Some(o), Cmp::Le) => o != Ordering::Greater,
        (Some(o), Cmp::Gt) => o == Ordering::Greater,
        (Some(o), Cmp::Ge) => o != Ordering::Less,
        (None, Cmp::Eq) => same_type(a, b) && a == b,
        (None, Cmp::Ne) => same_type(a, b) && a != b,
        (None, _) => false,
    }
}

fn as_i128(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn compare_numbers(x: &Number, y: &Number) -> Option<Ordering> {
    match (as_i128(x), as_i128(y)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
    }
}

/// `a + b`, integers staying integers while they fit.
pub(crate) fn add_numbers(a: &Number, b: &Number) -> StoreResult<Number> {
    if let (Some(x), Some(y)) = (as_i128(a), as_i128(b)) {
        let sum = x + y;
        if let Ok(v) = i64::try_from(sum) {
            return Ok(Number::from(v));
        }
        if let Ok(v) = u64::try_from(sum) {
            return Ok(Number::from(v));
        }
    }
    let sum = a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0);
    Number::from_f64(sum).ok_or_else(|| StoreError::Invalid("ADD overflowed".into()))
}

/// Checks an update for what DynamoDB rejects: key attributes, or one attribute in two clauses.
pub(crate) fn validate_update(update: &Update) -> StoreResult<()> {
    let mut seen = HashSet::new();
    let attrs = update
        .set
        .iter()
        .map(|(a, _)| a)
        .chain(update.add.iter().map(|(a, _)| a))
        .chain(update.remove.iter());
    for attr in attrs {
        if attr == PK || attr == SK {
            return Err(StoreError::Invalid(format!(
                "cannot update key attribute {attr}"
            )));
        }
        if attr.is_empty() {
            return Err(StoreError::Invalid("empty attribute name".into()));
        }
        if !seen.insert(attr.as_str()) {
            return Err(StoreError::Invalid(format!(
                "attribute {attr} appears twice in the update"
            )));
        }
    }
    for (attr, value) in &update.set {
        if [GSI1PK, GSI1SK, GSI2PK, GSI2SK].contains(&attr.as_str())
            && value.as_str().is_none_or(str::is_empty)
        {
            return Err(StoreError::Invalid(format!(
                "{attr} must be a non-empty string"
            )));
        }
    }
    for (attr, _) in &update.add {
        if [GSI1PK, GSI1SK, GSI2PK, GSI2SK].contains(&attr.as_str()) {
            return Err(StoreError::Invalid(format!(
                "{attr} must be a string, not a number"
            )));
        }
    }
    Ok(())
}

/// Applies SET, then ADD (a missing attribute counts as 0), then REMOVE.
pub(crate) fn apply_update(item: &mut Item, update: &Update) -> StoreResult<()> {
    validate_update(update)?;
    for (attr, value) in &update.set {
        item.insert(attr.clone(), value.clone());
    }
    for (attr, n) in &update.add {
        let sum = match item.get(attr) {
            None => n.clone(),
            Some(Value::Number(current)) => add_numbers(current, n)?,
            Some(_) => {
                return Err(StoreError::Invalid(format!(
                    "ADD on {attr}, which is not a number"
                )));
            }
        };
        item.insert(attr.clone(), Value::Number(sum));
    }
    for attr in &update.remove {
        item.remove(attr);
    }
    Ok(())
}

/// The distinct keys a transaction writes or checks, rejecting duplicates and oversize requests.
pub(crate) fn tx_keys(ops: &[TxOp]) -> StoreResult<Vec<Key>> {
    if ops.len() > MAX_TX_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction has at most {MAX_TX_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut seen = HashSet::new();
    let mut keys = Vec::with_capacity(ops.len());
    for op in ops {
        let key = match op {
            TxOp::Put { item, .. } => validate_item(item)?,
            TxOp::Update { key, update, .. } => {
                validate_key(key)?;
                validate_update(update)?;
                if update.set.is_empty() && update.add.is_empty() && update.remove.is_empty() {
                    return Err(StoreError::Invalid(
                        "an update in a transaction needs an action".into(),
                    ));
                }
                key.clone()
            }
            TxOp::Delete { key, .. } | TxOp::Check { key, .. } => {
                validate_key(key)?;
                key.clone()
            }
        };
        if !seen.insert(key.clone()) {
            return Err(StoreError::Invalid(format!(
                "the transaction touches {}/{} more than once",
                key.pk, key.sk
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

// ---- cursors --------------------------------------------------------------------------------

fn encode_cursor(parts: &[&[u8]]) -> String {
    let strings: Vec<&str> = parts
        .iter()
        .map(|p| std::str::from_utf8(p).unwrap_or_default())
        .collect();
    let json = serde_json::to_vec(&strings).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(cursor: &str, arity: usize) -> StoreResult<Vec<Vec<u8>>> {
    let bad = || StoreError::Invalid("bad cursor".into());
    let json = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let parts: Vec<String> = serde_json::from_slice(&json).map_err(|_| bad())?;
    if parts.len() != arity {
        return Err(bad());
    }
    Ok(parts.into_iter().map(String::into_bytes).collect())
}

// ---- query bounds ---------------------------------------------------------------------------

/// The immediate successor of `s` among byte strings.
fn successor(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s);
    v.push(0);
    v
}

/// The smallest byte string greater than every string starting with `p` (None: no bound).
fn prefix_end(p: &[u8]) -> Option<Vec<u8>> {
    let mut v = p.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xff {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

/// Sort-key range `[lo, hi)` of a sort-key condition; `None` bounds are open.
fn sort_range(sk: Option<&SortKey>) -> StoreResult<(Vec<u8>, Option<Vec<u8>>)> {
    Ok(match sk {
        None => (Vec::new(), None),
        Some(SortKey::Eq(s)) => (s.as_bytes().to_vec(), Some(successor(s.as_bytes()))),
        Some(SortKey::BeginsWith(p)) => (p.as_bytes().to_vec(), prefix_end(p.as_bytes())),
        Some(SortKey::Between(a, b)) => {
            if a.as_bytes() > b.as_bytes() {
                return Err(StoreError::Invalid("BETWEEN needs lower <= upper".into()));
            }
            (a.as_bytes().to_vec(), Some(successor(b.as_bytes())))
        }
        Some(SortKey::Lt(s)) => (Vec::new(), Some(s.as_bytes().to_vec())),
        Some(SortKey::Le(s)) => (Vec::new(), Some(successor(s.as_bytes()))),
        Some(SortKey::Gt(s)) => (successor(s.as_bytes()), None),
        Some(SortKey::Ge(s)) => (s.as_bytes().to_vec(), None),
    })
}

/// Collects up to `limit` live items from `entries` (each with its [`item_size`]), peeking one
/// further to know whether more follow; the cursor is made of the `cursor_attrs` of the last item
/// returned. Without a limit the page ends, like DynamoDB's, once its items reach
/// [`PAGE_BYTES`]; with one it holds `limit` items whatever their size (the DynamoDB store reads
/// on past its 1 MB pages to fill a limit too).
fn collect<I>(entries: I, limit: Option<u32>, now: i64, cursor_attrs: &[&str]) -> StoreResult<Page>
where
    I: Iterator<Item = StoreResult<Option<(Item, usize)>>>,
{
    let limit = limit.map(|l| l as usize);
    let mut items: Vec<Item> = Vec::with_capacity(limit.unwrap_or(16).min(1024));
    let mut bytes = 0;
    for entry in entries {
        let Some((item, size)) = entry?.filter(|(i, _)| !is_expired(i, now)) else {
            continue;
        };
        let full = match limit {
            Some(l) => items.len() >= l,
            None => bytes >= PAGE_BYTES,
        };
        if full {
            let cursor = match items.last() {
                Some(last) => Some(cursor_of(last, cursor_attrs)?),
                None => None,
            };
            return Ok(Page { items, cursor });
        }
        bytes += size;
        items.push(item);
    }
    Ok(Page {
        items,
        cursor: None,
    })
}

/// [`item_size`] of a stored item when a page is bounded by size (no limit), else 0.
fn sized(bytes: &[u8], by_size: bool) -> StoreResult<usize> {
    if !by_size {
        return Ok(0);
    }
    codec::dynamo_size(bytes).ok_or_else(|| StoreError::Backend("corrupt stored item".into()))
}

fn cursor_of(item: &Item, attrs: &[&str]) -> StoreResult<String> {
    let parts = attrs
        .iter()
        .map(|a| item.get(*a).and_then(Value::as_str).map(str::as_bytes))
        .collect::<Option<Vec<&[u8]>>>()
        .ok_or_else(|| StoreError::Backend("stored item lacks its key attributes".into()))?;
    Ok(encode_cursor(&parts))
}

fn check_limit(limit: Option<u32>) -> StoreResult<()> {
    if limit == Some(0) {
        return Err(StoreError::Invalid("limit must be at least 1".into()));
    }
    Ok(())
}

/// Segment of a partition key in a scan of `total` segments.
fn segment_of(pk: &[u8], total: u32) -> u32 {
    (xxhash_rust::xxh3::xxh3_64(pk) % u64::from(total)) as u32
}

impl LocalStore {
    /// Decodes the `nth` item of one read: through the cache for the first [`CACHED_PER_READ`]
    /// (request-sized reads), directly after that. Bulk reads (a job reading every order, a
    /// snapshot of the catalog) would only churn the cache: a copy into it for each item and a
    /// wholesale eviction every few thousand.
    fn decode_read(&self, bytes: &[u8], nth: usize, keep: Option<&[&str]>) -> StoreResult<Item> {
        if let Some(keep) = keep {
            return codec::decode_projected(bytes, keep)
                .ok_or_else(|| StoreError::Backend("corrupt stored item".into()));
        }
        if nth <= CACHED_PER_READ {
            self.cache.decode(bytes)
        } else {
            decode(bytes)
        }
    }

    fn query_table(&self, q: &Query, now: i64) -> StoreResult<Page> {
        let table = self.read_main()?;
        let pk = q.pk.as_bytes();
        let (lo, hi) = sort_range(q.sk.as_ref())?;
        let pk_end = successor(pk);
        let cursor = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, 2))
            .transpose()?;
        if let Some(c) = &cursor
            && c[0] != pk
        {
            return Err(StoreError::Invalid(
                "cursor belongs to another query".into(),
            ));
        }
        let lower: Bound<MainKey<'_>> = match (&cursor, q.forward) {
            (Some(c), true) if c[1].as_slice() >= lo.as_slice() => {
                Bound::Excluded((pk, c[1].as_slice()))
            }
            _ => Bound::Included((pk, lo.as_slice())),
        };
        let upper: Bound<MainKey<'_>> = match (&cursor, q.forward, &hi) {
            (Some(c), false, Some(h)) if c[1].as_slice() < h.as_slice() => {
                Bound::Excluded((pk, c[1].as_slice()))
            }
            (Some(c), false, None) => Bound::Excluded((pk, c[1].as_slice())),
            (_, _, Some(h)) => Bound::Excluded((pk, h.as_slice())),
            (_, _, None) => Bound::Excluded((pk_end.as_slice(), b"".as_slice())),
        };
        if range_is_empty(&lower, &upper) {
            return Ok(Page::default());
        }
        let range = table
            .range::<MainKey<'_>>((lower, upper))
            .map_err(backend_err)?;
        let keep = q.projected_attrs();
        let by_size = q.limit.is_none();
        let mut read = 0;
        let entries = range.map(|e| {
            let (_, v) = e.map_err(backend_err)?;
            read += 1;
            let size = sized(v.value(), by_size)?;
            self.decode_read(v.value(), read, keep.as_deref())
                .map(|item| Some((item, size)))
        });
        if q.forward {
            collect(entries, q.limit, now, &[PK, SK])
        } else {
            collect(entries.rev(), q.limit, now, &[PK, SK])
        }
    }

    fn query_index(&self, q: &Query, now: i64) -> StoreResult<Page> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        let main = txn.open_table(MAIN).map_err(backend_err)?;
        let index = match q.index {
            Index::Gsi2 => txn.open_table(GSI2),
            _ => txn.open_table(GSI1),
        }
        .map_err(backend_err)?;
        let ipk = q.pk.as_bytes();
        let (lo, hi) = sort_range(q.sk.as_ref())?;
        let ipk_end = successor(ipk);
        let cursor = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, 4))
            .transpose()?;
        if let Some(c) = &cursor
            && c[0] != ipk
        {
            return Err(StoreError::Invalid(
                "cursor belongs to another query".into(),
            ));
        }
        let empty: &[u8] = b"";
        let lower: Bound<IndexKey<'_>> = match (&cursor, q.forward) {
            (Some(c), true) if c[1].as_slice() >= lo.as_slice() => {
                Bound::Excluded((ipk, c[1].as_slice(), c[2].as_slice(), c[3].as_slice()))
            }
            _ => Bound::Included((ipk, lo.as_slice(), empty, empty)),
        };
        let upper: Bound<IndexKey<'_>> = match (&cursor, q.forward, &hi) {
            (Some(c), false, Some(h)) if c[1].as_slice() < h.as_slice() => {
                Bound::Excluded((ipk, c[1].as_slice(), c[2].as_slice(), c[3].as_slice()))
            }
            (Some(c), false, None) => {
                Bound::Excluded((ipk, c[1].as_slice(), c[2].as_slice(), c[3].as_slice()))
            }
            (_, _, Some(h)) => Bound::Excluded((ipk, h.as_slice(), empty, empty)),
            (_, _, None) => Bound::Excluded((ipk_end.as_slice(), empty, empty, empty)),
        };
        if range_is_empty(&lower, &upper) {
            return Ok(Page::default());
        }
        let range = index
            .range::<IndexKey<'_>>((lower, upper))
            .map_err(backend_err)?;
        let keep = q.projected_attrs();
        let by_size = q.limit.is_none();
        let mut read = 0;
        let entries = range.map(|e| {
            let (k, _) = e.map_err(backend_err)?;
            let (_, _, p, s) = k.value();
            read += 1;
            match main.get((p, s)).map_err(backend_err)? {
                Some(v) => {
                    let size = sized(v.value(), by_size)?;
                    self.decode_read(v.value(), read, keep.as_deref())
                        .map(|item| Some((item, size)))
                }
                None => Ok(None),
            }
        });
        let (ipk_attr, isk_attr) = q.index.key_attrs();
        let attrs = [ipk_attr, isk_attr, PK, SK];
        if q.forward {
            collect(entries, q.limit, now, &attrs)
        } else {
            collect(entries.rev(), q.limit, now, &attrs)
        }
    }
}

/// True when `lower` is past `upper` (redb panics on such ranges).
fn range_is_empty<K: Ord>(lower: &Bound<K>, upper: &Bound<K>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u)) => l >= u,
        (Bound::Included(l), Bound::Included(u)) => l > u,
        _ => false,
    }
}

#[async_trait]
impl ItemStore for LocalStore {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        let table = self.read_main()?;
        let now = now_epoch();
        match table
            .get((key.pk.as_bytes(), key.sk.as_bytes()))
            .map_err(backend_err)?
        {
            Some(v) => Ok(Some(self.cache.decode(v.value())?).filter(|i| !is_expired(i, now))),
            None => Ok(None),
        }
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        let key = validate_item(&item)?;
        let bytes = encode(&item)?;
        let now = now_epoch();
        self.write(|t| {
            let old = t.load(&key)?;
            if let Some(c) = &condition {
                let live = old.as_ref().filter(|i| !is_expired(i, now));
                if !eval_condition(c, live) {
                    return Err(StoreError::ConditionFailed);
                }
            }
            t.store(old.as_ref(), &item, &bytes)
        })
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        validate_key(key)?;
        let now = now_epoch();
        self.write(|t| {
            let Some(old) = t.load(key)? else {
                return match &condition {
                    Some(c) if !eval_condition(c, None) => Err(StoreError::ConditionFailed),
                    _ => Ok(None),
                };
            };
            let live = !is_expired(&old, now);
            if let Some(c) = &condition
                && !eval_condition(c, Some(&old).filter(|_| live))
            {
                return Err(StoreError::ConditionFailed);
            }
            t.erase(&old)?;
            Ok(Some(old).filter(|_| live))
        })
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        validate_key(key)?;
        let now = now_epoch();
        self.write(|t| {
            let old = t.load(key)?;
            let live = old.as_ref().filter(|i| !is_expired(i, now));
            if let Some(c) = &condition
                && !eval_condition(c, live)
            {
                return Err(StoreError::ConditionFailed);
            }
            let mut new = live.cloned().unwrap_or_else(|| key_item(key));
            apply_update(&mut new, &update)?;
            validate_item(&new)?;
            let bytes = encode(&new)?;
            t.store(old.as_ref(), &new, &bytes)?;
            Ok(new)
        })
    }

    async fn update_many(&self, updates: Vec<(Key, Update)>) -> StoreResult<()> {
        for (key, _) in &updates {
            validate_key(key)?;
        }
        let now = now_epoch();
        self.write(|t| {
            for (key, update) in &updates {
                let old = t.load(key)?;
                let live = old.as_ref().filter(|i| !is_expired(i, now));
                let mut new = live.cloned().unwrap_or_else(|| key_item(key));
                apply_update(&mut new, update)?;
                validate_item(&new)?;
                let bytes = encode(&new)?;
                t.store(old.as_ref(), &new, &bytes)?;
            }
            Ok(())
        })
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        check_limit(query.limit)?;
        let now = now_epoch();
        match query.index {
            Index::Table => self.query_table(&query, now),
            Index::Gsi1 | Index::Gsi2 => self.query_index(&query, now),
        }
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        let keys = tx_keys(&ops)?;
        let now = now_epoch();
        self.write(|t| {
            let mut olds = Vec::with_capacity(ops.len());
            let mut failed = Vec::new();
            for (i, (op, key)) in ops.iter().zip(&keys).enumerate() {
                let old = t.load(key)?;
                let condition = match op {
                    TxOp::Put { condition, .. }
                    | TxOp::Update { condition, .. }
                    | TxOp::Delete { condition, .. } => condition.as_ref(),
                    TxOp::Check { condition, .. } => Some(condition),
                };
                let live = old.as_ref().filter(|o| !is_expired(o, now));
                if condition.is_some_and(|c| !eval_condition(c, live)) {
                    failed.push(i);
                }
                olds.push(old);
            }
            if !failed.is_empty() {
                return Err(StoreError::TransactionCanceled { failed });
            }
            for ((op, key), old) in ops.iter().zip(&keys).zip(&olds) {
                match op {
                    TxOp::Put { item, .. } => {
                        let bytes = encode(item)?;
                        t.store(old.as_ref(), item, &bytes)?;
                    }
                    TxOp::Update { update, .. } => {
                        let live = old.as_ref().filter(|o| !is_expired(o, now));
                        let mut new = live.cloned().unwrap_or_else(|| key_item(key));
                        apply_update(&mut new, update)?;
                        validate_item(&new)?;
                        let bytes = encode(&new)?;
                        t.store(old.as_ref(), &new, &bytes)?;
                    }
                    TxOp::Delete { .. } => {
                        if let Some(old) = old {
                            t.erase(old)?;
                        }
                    }
                    TxOp::Check { .. } => {}
                }
            }
            Ok(())
        })
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Item>> {
        let table = self.read_main()?;
        let now = now_epoch();
        let mut out = Vec::with_capacity(keys.len());
        for (nth, key) in keys.iter().enumerate() {
            if let Some(v) = table
                .get((key.pk.as_bytes(), key.sk.as_bytes()))
                .map_err(backend_err)?
            {
                let item = self.decode_read(v.value(), nth, None)?;
                if !is_expired(&item, now) {
                    out.push(item);
                }
            }
        }
        Ok(out)
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        check_limit(scan.limit)?;
        if scan.total_segments == 0 || scan.segment >= scan.total_segments {
            return Err(StoreError::Invalid(
                "segment must be below total_segments".into(),
            ));
        }
        let now = now_epoch();
        let table = self.read_main()?;
        let cursor = scan
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, 2))
            .transpose()?;
        let lower: Bound<MainKey<'_>> = match &cursor {
            Some(c) => Bound::Excluded((c[0].as_slice(), c[1].as_slice())),
            None => Bound::Unbounded,
        };
        let range = table
            .range::<MainKey<'_>>((lower, Bound::Unbounded))
            .map_err(backend_err)?;
        let total = scan.total_segments;
        let by_size = scan.limit.is_none();
        // The segment of the current partition, computed once per partition.
        let mut current: Option<(Vec<u8>, bool)> = None;
        let entries = range.filter_map(|e| {
            let (k, v) = match e {
                Ok(kv) => kv,
                Err(e) => return Some(Err(backend_err(e))),
            };
            let (p, _) = k.value();
            let mine = match &current {
                Some((pk, mine)) if pk.as_slice() == p => *mine,
                _ => {
                    let mine = segment_of(p, total) == scan.segment;
                    current = Some((p.to_vec(), mine));
                    mine
                }
            };
            if !mine {
                return None;
            }
            let size = match sized(v.value(), by_size) {
                Ok(size) => size,
                Err(e) => return Some(Err(e)),
            };
            Some(decode(v.value()).map(|item| Some((item, size))))
        });
        collect(entries, scan.limit, now, &[PK, SK])
    }

    fn backend_name(&self) -> &'static str {
        self.backend
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read_main().map(|_| ())
    }

    async fn purge_expired(&self) -> StoreResult<usize> {
        LocalStore::purge_expired(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codec_round_trips_and_reads_json() {
        use serde_json::json;
        let Value::Object(item) = json!({
            "PK": "a", "SK": "b", "i": -3, "u": u64::MAX, "f": 0.5, "t": true, "n": null,
            "s": "é✓", "l": [1, [2, {"x": []}]], "m": {"k": {"z": false}}, "e": {}
        }) else {
            unreachable!()
        };
        let bytes = codec::encode(&item).unwrap();
        assert_eq!(codec::decode(&bytes), Some(item.clone()));
        assert!(codec::decode(&bytes).unwrap()["u"].is_u64());
        let text = serde_json::to_vec(&item).unwrap();
        assert_eq!(codec::decode(&text), Some(item));
        // Truncated, trailing or unknown input is rejected, not misread.
        assert_eq!(codec::decode(&bytes[..bytes.len() - 1]), None);
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(codec::decode(&long), None);
        assert_eq!(codec::decode(&[9, 1, 2]), None);
        assert_eq!(codec::decode(&[1, 255, 255, 255, 255]), None);
        assert_eq!(codec::decode(&[]), None);
    }

    #[test]
    fn codec_limits_nesting() {
        let mut v = Value::Null;
        for _ in 0..40 {
            v = Value::Array(vec![v]);
        }
        let mut item = key_item(&Key::new("a", "b"));
        item.insert("deep".into(), v);
        assert!(matches!(codec::encode(&item), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn prefix_end_skips_ff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn numbers_add_as_integers() {
        let n = add_numbers(&Number::from(2), &Number::from(-5)).unwrap();
        assert_eq!(n.as_i64(), Some(-3));
        let f = add_numbers(&Number::from(2), &Number::from_f64(0.5).unwrap()).unwrap();
        assert_eq!(f.as_f64(), Some(2.5));
        let big = add_numbers(&Number::from(i64::MAX), &Number::from(1)).unwrap();
        assert_eq!(big.as_u64(), Some(i64::MAX as u64 + 1));
    }

    #[test]
    fn comparisons_follow_dynamodb() {
        use serde_json::json;
        assert!(compare_values(&json!(10), Cmp::Gt, &json!(9)));
        assert!(compare_values(&json!(1.5), Cmp::Lt, &json!(2)));
        assert!(compare_values(&json!("b"), Cmp::Gt, &json!("a")));
        assert!(!compare_values(&json!("1"), Cmp::Ne, &json!(1)));
        assert!(compare_values(&json!(true), Cmp::Ne, &json!(false)));
        assert!(!compare_values(&json!(true), Cmp::Lt, &json!(false)));
    }
}
