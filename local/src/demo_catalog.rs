//! The demo catalog: 6 departments with 24 sub-categories and a deterministic set of products with
//! brands, tags, descriptions and prices, so that lists, filters and similar products give
//! meaningful answers out of the box. Idempotent: categories are found by slug and products by
//! code on a second run.

use std::collections::HashMap;

use shared::{
    AppState,
    domain::catalog::{self, CatalogError, NewCategory, NewProduct},
    money::Cents,
};

/// A sub-category: name, product nouns, brands, features, typical use, price range (dollars).
struct Shelf {
    name: &'static str,
    nouns: &'static [&'static str],
    brands: &'static [&'static str],
    features: &'static [&'static str],
    use_for: &'static str,
    price: (f64, f64),
}

const DEPARTMENTS: &[(&str, &str, &[Shelf])] = &[
    (
        "Electronics",
        "Devices, gadgets and accessories",
        &[
            Shelf {
                name: "Smartphones",
                nouns: &["Smartphone", "Phone", "5G Phone"],
                brands: &["Apple", "Samsung", "Google", "Nokia"],
                features: &[
                    "OLED display",
                    "triple camera",
                    "fast charging",
                    "5G",
                    "all-day battery",
                ],
                use_for: "staying connected on the go",
                price: (199.0, 1299.0),
            },
            Shelf {
                name: "Laptops",
                nouns: &["Laptop", "Ultrabook", "Notebook"],
                brands: &["Apple", "Dell", "Lenovo", "HP"],
                features: &[
                    "16 GB memory",
                    "SSD storage",
                    "backlit keyboard",
                    "long battery life",
                    "lightweight aluminium body",
                ],
                use_for: "work, study and travel",
                price: (499.0, 2499.0),
            },
            Shelf {
                name: "Headphones",
                nouns: &["Wireless Earbuds", "Over-Ear Headphones", "Headset"],
                brands: &["Sony", "Bose", "Apple", "JBL"],
                features: &[
                    "noise cancelling",
                    "Bluetooth 5.3",
                    "30-hour battery",
                    "built-in microphone",
                    "deep bass",
                ],
                use_for: "music, calls and commuting",
                price: (29.0, 449.0),
            },
            Shelf {
                name: "Phone Accessories",
                nouns: &[
                    "Phone Case",
                    "Screen Protector",
                    "USB-C Charger",
                    "Power Bank",
                ],
                brands: &["Anker", "Belkin", "Spigen", "OtterBox"],
                features: &[
                    "shock-absorbing edges",
                    "tempered glass",
                    "fast charging",
                    "compact design",
                    "MagSafe compatible",
                ],
                use_for: "protecting and powering your phone",
                price: (9.0, 79.0),
            },
        ],
    ),
    (
        "Home & Kitchen",
        "Everything for the home",
        &[
            Shelf {
                name: "Cookware",
                nouns: &["Frying Pan", "Saucepan", "Dutch Oven", "Wok"],
                brands: &["Tefal", "Le Creuset", "Lodge", "Zwilling"],
                features: &[
                    "non-stick coating",
                    "cast iron",
                    "induction ready",
                    "oven safe",
                    "stainless steel",
                ],
                use_for: "everyday cooking",
                price: (19.0, 349.0),
            },
            Shelf {
                name: "Coffee & Tea",
                nouns: &[
                    "Espresso Machine",
                    "Coffee Grinder",
                    "French Press",
                    "Kettle",
                ],
                brands: &["DeLonghi", "Breville", "Bodum", "Hario"],
                features: &[
                    "burr grinder",
                    "temperature control",
                    "milk frother",
                    "glass carafe",
                    "auto shut-off",
                ],
                use_for: "brewing coffee and tea at home",
                price: (15.0, 899.0),
            },
            Shelf {
                name: "Bedding",
                nouns: &["Duvet", "Pillow", "Sheet Set", "Mattress Topper"],
                brands: &["Ikea", "Brooklinen", "Casper", "Dunelm"],
                features: &[
                    "organic cotton",
                    "memory foam",
                    "hypoallergenic",
                    "breathable",
                    "machine washable",
                ],
                use_for: "a good night's sleep",
                price: (19.0, 299.0),
            },
            Shelf {
                name: "Home Decor",
                nouns: &[
                    "Table Lamp",
                    "Wall Mirror",
                    "Scented Candle",
                    "Throw Blanket",
                ],
                brands: &["Ikea", "West Elm", "Yankee Candle", "H&M Home"],
                features: &[
                    "warm light",
                    "handmade",
                    "natural wood",
                    "soft knit",
                    "minimalist design",
                ],
                use_for: "making a room feel like home",
                price: (9.0, 199.0),
            },
        ],
    ),
    (
        "Sports & Outdoors",
        "Gear for sport, fitness and the outdoors",
        &[
            Shelf {
                name: "Running",
                nouns: &[
                    "Running Shoes",
                    "Running Jacket",
                    "Sports Watch",
                    "Hydration Vest",
                ],
                brands: &["Nike", "Asics", "Garmin", "Salomon"],
                features: &[
                    "cushioned sole",
                    "breathable mesh",
                    "GPS tracking",
                    "reflective details",
                    "lightweight",
                ],
                use_for: "road and trail running",
                price: (25.0, 499.0),
            },
            Shelf {
                name: "Camping",
                nouns: &["Tent", "Sleeping Bag", "Camping Stove", "Headlamp"],
                brands: &["Coleman", "MSR", "Black Diamond", "Vango"],
                features: &[
                    "waterproof",
                    "three-season",
                    "packable",
                    "rechargeable",
                    "quick pitch",
                ],
                use_for: "nights under the stars",
                price: (19.0, 599.0),
            },
            Shelf {
                name: "Fitness",
                nouns: &["Yoga Mat", "Dumbbell Set", "Resistance Bands", "Kettlebell"],
                brands: &["Manduka", "Bowflex", "Decathlon", "Rogue"],
                features: &[
                    "non-slip surface",
                    "adjustable weight",
                    "portable",
                    "cast iron",
                    "eco-friendly rubber",
                ],
                use_for: "training at home",
                price: (12.0, 399.0),
            },
            Shelf {
                name: "Cycling",
                nouns: &["Bike Helmet", "Bike Light", "Cycling Gloves", "Bike Lock"],
                brands: &["Giro", "Lezyne", "Kryptonite", "Shimano"],
                features: &[
                    "MIPS protection",
                    "USB rechargeable",
                    "padded palms",
                    "hardened steel",
                    "aerodynamic",
                ],
                use_for: "safe and comfortable rides",
                price: (15.0, 249.0),
            },
        ],
    ),
    (
        "Books & Media",
        "Books, games and music",
        &[
            Shelf {
                name: "Fiction",
                nouns: &[
                    "Novel",
                    "Short Story Collection",
                    "Thriller",
                    "Fantasy Saga",
                ],
                brands: &["Penguin", "HarperCollins", "Vintage", "Tor"],
                features: &[
                    "bestseller",
                    "paperback",
                    "hardcover",
                    "award-winning",
                    "first edition",
                ],
                use_for: "reading for pleasure",
                price: (7.0, 35.0),
            },
            Shelf {
                name: "Science & Technology",
                nouns: &[
                    "Programming Guide",
                    "Physics Primer",
                    "Data Science Handbook",
                    "History of Computing",
                ],
                brands: &["O'Reilly", "No Starch Press", "MIT Press", "Manning"],
                features: &[
                    "hands-on examples",
                    "illustrated",
                    "second edition",
                    "exercises included",
                    "beginner friendly",
                ],
                use_for: "learning something new",
                price: (19.0, 79.0),
            },
            Shelf {
                name: "Video Games",
                nouns: &[
                    "Adventure Game",
                    "Racing Game",
                    "Puzzle Game",
                    "Sports Game",
                ],
                brands: &["Nintendo", "Ubisoft", "EA", "Sony"],
                features: &[
                    "online multiplayer",
                    "open world",
                    "family friendly",
                    "4K graphics",
                    "co-op mode",
                ],
                use_for: "evenings with friends and family",
                price: (19.0, 69.0),
            },
            Shelf {
                name: "Board Games",
                nouns: &[
                    "Strategy Game",
                    "Party Game",
                    "Card Game",
                    "Cooperative Game",
                ],
                brands: &["Asmodee", "Hasbro", "Ravensburger", "Z-Man"],
                features: &[
                    "2-6 players",
                    "quick to learn",
                    "award-winning",
                    "expansion ready",
                    "family friendly",
                ],
                use_for: "game night",
                price: (12.0, 89.0),
            },
        ],
    ),
    (
        "Beauty & Health",
        "Care for skin, hair and wellbeing",
        &[
            Shelf {
                name: "Skincare",
                nouns: &["Moisturiser", "Face Serum", "Sunscreen", "Cleanser"],
                brands: &["CeraVe", "La Roche-Posay", "The Ordinary", "Neutrogena"],
                features: &[
                    "hyaluronic acid",
                    "SPF 50",
                    "fragrance free",
                    "for sensitive skin",
                    "vitamin C",
                ],
                use_for: "a simple daily routine",
                price: (7.0, 69.0),
            },
            Shelf {
                name: "Hair Care",
                nouns: &["Shampoo", "Conditioner", "Hair Dryer", "Straightener"],
                brands: &["Dyson", "Pantene", "Olaplex", "GHD"],
                features: &[
                    "sulfate free",
                    "ionic technology",
                    "heat protection",
                    "repairing formula",
                    "fast drying",
                ],
                use_for: "healthy, shiny hair",
                price: (6.0, 449.0),
            },
            Shelf {
                name: "Vitamins",
                nouns: &["Multivitamin", "Vitamin D", "Omega-3", "Magnesium"],
                brands: &[
                    "Nature Made",
                    "Solgar",
                    "Garden of Life",
                    "Holland & Barrett",
                ],
                features: &[
                    "vegan",
                    "90 capsules",
                    "third-party tested",
                    "easy to swallow",
                    "sugar free",
                ],
                use_for: "everyday wellbeing",
                price: (6.0, 45.0),
            },
            Shelf {
                name: "Oral Care",
                nouns: &[
                    "Electric Toothbrush",
                    "Water Flosser",
                    "Toothpaste",
                    "Whitening Kit",
                ],
                brands: &["Oral-B", "Philips Sonicare", "Waterpik", "Colgate"],
                features: &[
                    "pressure sensor",
                    "two-minute timer",
                    "rechargeable",
                    "fluoride",
                    "gentle on gums",
                ],
                use_for: "a brighter smile",
                price: (3.0, 249.0),
            },
        ],
    ),
    (
        "Garden & Outdoor Living",
        "Plants, tools and outdoor furniture",
        &[
            Shelf {
                name: "Garden Tools",
                nouns: &["Pruning Shears", "Garden Spade", "Rake", "Garden Hose"],
                brands: &["Fiskars", "Gardena", "Spear & Jackson", "Wolf-Garten"],
                features: &[
                    "stainless steel blade",
                    "ergonomic grip",
                    "rust resistant",
                    "lightweight",
                    "30 m length",
                ],
                use_for: "keeping the garden tidy",
                price: (9.0, 129.0),
            },
            Shelf {
                name: "Plants & Seeds",
                nouns: &[
                    "Herb Seed Kit",
                    "Tomato Seeds",
                    "Potted Lavender",
                    "Succulent Set",
                ],
                brands: &["Thompson & Morgan", "Burpee", "Suttons", "Bloomling"],
                features: &[
                    "organic",
                    "easy to grow",
                    "pollinator friendly",
                    "indoor or outdoor",
                    "germination guide",
                ],
                use_for: "growing your own",
                price: (3.0, 49.0),
            },
            Shelf {
                name: "Outdoor Furniture",
                nouns: &["Garden Bench", "Patio Set", "Hammock", "Sun Lounger"],
                brands: &["Keter", "Ikea", "Hartman", "Outsunny"],
                features: &[
                    "weatherproof",
                    "acacia wood",
                    "foldable",
                    "UV resistant cushions",
                    "rust-proof frame",
                ],
                use_for: "relaxing outdoors",
                price: (49.0, 999.0),
            },
            Shelf {
                name: "Barbecue",
                nouns: &[
                    "Charcoal Grill",
                    "Gas Barbecue",
                    "Grill Tool Set",
                    "Pizza Oven",
                ],
                brands: &["Weber", "Char-Broil", "Ooni", "Traeger"],
                features: &[
                    "porcelain-enamelled grate",
                    "built-in thermometer",
                    "portable",
                    "stainless steel",
                    "reaches 500 C",
                ],
                use_for: "cooking outdoors",
                price: (19.0, 899.0),
            },
        ],
    ),
];

const ADJECTIVES: [&str; 8] = [
    "Pro",
    "Lite",
    "Classic",
    "Max",
    "Essential",
    "Plus",
    "Compact",
    "Premium",
];

/// SplitMix64: a tiny, well-known deterministic mixer (no crate needed for a few demo numbers).
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What was seeded.
#[derive(Debug, Default)]
pub struct CatalogSeeded {
    pub categories: usize,
    pub products: usize,
    pub existing: usize,
}

/// The demo shelves flattened: (department index, shelf).
fn shelves() -> Vec<(usize, &'static Shelf)> {
    DEPARTMENTS
        .iter()
        .enumerate()
        .flat_map(|(d, (_, _, shelves))| shelves.iter().map(move |s| (d, s)))
        .collect()
}

/// Shelves whose products are bought again and again: recommendations may offer a shopper's
/// past purchases of them again (`Category::consumable`).
const CONSUMABLE_SHELVES: [&str; 1] = ["Skincare"];

async fn ensure_category(
    state: &AppState,
    by_slug: &mut HashMap<String, String>,
    name: &str,
    description: &str,
    parent_id: Option<String>,
    out: &mut CatalogSeeded,
) -> anyhow::Result<String> {
    let slug = catalog::slugify(name);
    if let Some(id) = by_slug.get(&slug) {
        return Ok(id.clone());
    }
    let c = catalog::create_category(
        state.store.as_ref(),
        NewCategory {
            name: name.into(),
            slug: Some(slug.clone()),
            description: Some(description.into()),
            parent_id,
            consumable: CONSUMABLE_SHELVES.contains(&name),
        },
    )
    .await?;
    out.categories += 1;
    by_slug.insert(slug, c.id.clone());
    Ok(c.id)
}

/// The `i`-th demo product of the catalog (deterministic).
fn demo_product(i: usize, shelf: &Shelf, category_id: &str) -> NewProduct {
    let h = mix(i as u64);
    let noun = shelf.nouns[(i / 24) % shelf.nouns.len()];
    let brand = shelf.brands[(h % shelf.brands.len() as u64) as usize];
    let adjective = ADJECTIVES[((h >> 8) % ADJECTIVES.len() as u64) as usize];
    let model = 1 + (h >> 16) % 9;
    let f1 = shelf.features[((h >> 20) % shelf.features.len() as u64) as usize];
    let f2 = shelf.features[((h >> 24) % shelf.features.len() as u64) as usize];
    let (lo, hi) = shelf.price;
    let fraction = ((h >> 32) % 10_000) as f64 / 10_000.0;
    let price = ((lo + (hi - lo) * fraction * fraction).floor() + 0.99).min(hi + 0.99);
    let stock = if h.is_multiple_of(13) {
        0
    } else {
        ((h >> 40) % 200) as i64 + 1
    };
    let features = if f1 == f2 {
        f1.to_string()
    } else {
        format!("{f1} and {f2}")
    };
    let mut tags: Vec<String> = vec![
        catalog::slugify(shelf.name),
        catalog::slugify(noun),
        catalog::slugify(f1),
    ];
    if f1 != f2 {
        tags.push(catalog::slugify(f2));
    }
    NewProduct {
        name: format!("{brand} {noun} {adjective} {model}"),
        code: format!("DEMO-{i:05}"),
        brand: Some(brand.into()),
        // Whole dollars plus 99 cents, computed in dollars then kept in cents.
        price: Cents::round_from(price),
        compare_price: h
            .is_multiple_of(5)
            .then(|| Cents::round_from((price * 1.2).floor() + 0.99)),
        description: Some(format!(
            "The {brand} {noun} {adjective} {model} with {features}. Made for {}.",
            shelf.use_for
        )),
        specification: [
            (
                "model".to_string(),
                serde_json::Value::from(format!("{adjective} {model}")),
            ),
            ("feature".to_string(), serde_json::Value::from(f1)),
        ]
        .into_iter()
        .collect(),
        technical_details: Default::default(),
        images: vec![format!("https://images.example.com/demo/{i:05}.jpg")],
        in_stock: true,
        stock_quantity: stock,
        category_id: category_id.into(),
        tags,
        meta_title: Some(format!("{brand} {noun} {adjective} {model}")),
        meta_description: None,
        is_active: i % 50 != 49,
    }
}

/// Seeds the departments, their sub-categories and `products` products spread over them.
pub async fn seed_catalog(state: &AppState, products: usize) -> anyhow::Result<CatalogSeeded> {
    let mut out = CatalogSeeded::default();
    let mut by_slug: HashMap<String, String> = catalog::list_categories(state.store.as_ref())
        .await?
        .into_iter()
        .map(|c| (c.slug, c.id))
        .collect();
    let mut department_ids = Vec::new();
    for (name, description, _) in DEPARTMENTS {
        department_ids
            .push(ensure_category(state, &mut by_slug, name, description, None, &mut out).await?);
    }
    let shelves = shelves();
    let mut shelf_ids = Vec::new();
    for (d, shelf) in &shelves {
        let description = format!("{} for {}", shelf.name, shelf.use_for);
        shelf_ids.push(
            ensure_category(
                state,
                &mut by_slug,
                shelf.name,
                &description,
                Some(department_ids[*d].clone()),
                &mut out,
            )
            .await?,
        );
    }
    for i in 0..products {
        let s = i % shelves.len();
        let new = demo_product(i, shelves[s].1, &shelf_ids[s]);
        match catalog::create_product(state.store.as_ref(), state.embedder.as_ref(), new).await {
            Ok(_) => out.products += 1,
            Err(CatalogError::CodeTaken) => out.existing += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_catalog_is_rich_deterministic_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        let first = seed_catalog(&state, 500).await.unwrap();
        assert_eq!((first.categories, first.products), (30, 500));
        let again = seed_catalog(&state, 500).await.unwrap();
        assert_eq!(
            (again.categories, again.products, again.existing),
            (0, 0, 500)
        );

        let products = catalog::list_all_products(state.store.as_ref())
            .await
            .unwrap();
        let brands: std::collections::HashSet<_> =
            products.iter().filter_map(|p| p.brand.clone()).collect();
        let categories: std::collections::HashSet<_> =
            products.iter().map(|p| p.category_id.clone()).collect();
        assert!(brands.len() > 50, "{}", brands.len());
        assert_eq!(categories.len(), 24);
        assert!(products.iter().any(|p| !p.available()));
        assert!(products.iter().any(|p| !p.is_active));
        assert!(
            products
                .iter()
                .all(|p| p.price > Cents::ZERO && p.price.0 % 100 == 99 && !p.tags.is_empty())
        );
        let a = demo_product(7, shelves()[7].1, "c");
        let b = demo_product(7, shelves()[7].1, "c");
        assert_eq!((a.name, a.price), (b.name, b.price));
    }
}
