//! `local eval recommend`: offline evaluation of a recommendation model on a train/test pair of
//! CSV files, for teams bringing their own history.
//!
//! Input rows are `user_id,item_id[,weight[,timestamp]]` (weight > 0, default 1; timestamp in
//! epoch seconds, default 0). A first line whose first field is `user_id` is a header. A bad row
//! stops the command with an error naming the file and line.
//!
//! The model is trained on TRAIN through [`registry::fit`] (as the training job does), "now"
//! being TRAIN's latest timestamp, then every TEST user with a relevant item (one they do not
//! already have in TRAIN) gets the top k of [`Recommender::recommend`] for their TRAIN history,
//! which never holds their TRAIN items. The metrics are [`shared::reco::eval::evaluate`]'s. The
//! same is done for a popularity baseline (`popularity` over a 365-day window, the widest it
//! takes); `--model popularity` gets that window too.
//!
//! Flags map to the ML config parameters (README "Model parameters"): `--factors` n_factors,
//! `--iterations` n_epochs, `--regularization` reg_all (ALS) or lambda (EASE), `--alpha` alpha,
//! `--seed` random_state (and the training seed). Flags a model does not take are ignored; the
//! parameters actually passed are printed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use shared::reco::data::{Dataset, Interaction};
use shared::reco::eval::{Metrics, evaluate};
use shared::reco::model::ModelKind;
use shared::reco::registry::{self, TrainInput, TrainedModel};

/// `local eval ...`
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Train a model on TRAIN and score its top-k against TEST (prints one JSON object).
    Recommend(RecommendArgs),
    /// RFM k-means on an orders CSV (prints one JSON object).
    Segments(crate::eval_segments::SegmentsArgs),
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// Training interactions: CSV `user_id,item_id[,weight[,timestamp]]`.
    #[arg(long)]
    pub train: PathBuf,
    /// Test interactions, same format.
    #[arg(long)]
    pub test: PathBuf,
    /// Model kind: als, ease, item_knn, popularity, hybrid (or any trained kind: trending,
    /// new_arrivals, ranker...).
    #[arg(long, default_value = "popularity")]
    pub model: String,
    /// ALS: n_factors.
    #[arg(long)]
    pub factors: Option<u64>,
    /// ALS: n_epochs.
    #[arg(long)]
    pub iterations: Option<u64>,
    /// ALS: reg_all; EASE: lambda.
    #[arg(long)]
    pub regularization: Option<f64>,
    /// ALS: alpha (confidence 1 + alpha * weight).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// random_state and the training seed (default 42).
    #[arg(long)]
    pub seed: Option<u64>,
    /// List length the metrics are computed at.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Also write each TEST user's top k as CSV `user_id,rank,item_id`.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// Runs `eval` and prints its JSON report.
pub fn run(command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Recommend(args) => {
            let report = recommend(&args)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        EvalCommand::Segments(args) => {
            let report = crate::eval_segments::evaluate(&args)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(())
}

/// Reads interactions from a CSV file (see the module docs).
pub fn read_interactions(path: &Path) -> anyhow::Result<Vec<Interaction>> {
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
        let line = record.position().map_or(n as u64 + 1, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").trim_start_matches('\u{feff}');
        if n == 0 && field(0).eq_ignore_ascii_case("user_id") {
            continue;
        }
        if !(2..=4).contains(&record.len()) {
            bail!(
                "{name} line {line}: expected user_id,item_id[,weight[,timestamp]], found {} fields",
                record.len()
            );
        }
        let (user, item) = (field(0), field(1));
        if user.is_empty() || item.is_empty() {
            bail!("{name} line {line}: user_id and item_id must not be empty");
        }
        let weight = match record.get(2).filter(|w| !w.is_empty()) {
            None => 1.0,
            Some(w) => match w.parse::<f32>() {
                Ok(x) if x.is_finite() && x > 0.0 => x,
                _ => bail!("{name} line {line}: weight `{w}` is not a number > 0"),
            },
        };
        let timestamp = match record.get(3).filter(|t| !t.is_empty()) {
            None => 0,
            Some(t) => match t.parse::<i64>() {
                Ok(x) => x,
                Err(_) => {
                    bail!("{name} line {line}: timestamp `{t}` is not an integer (epoch seconds)")
                }
            },
        };
        out.push(Interaction {
            user: user.to_string(),
            item: item.to_string(),
            weight,
            timestamp,
        });
    }
    Ok(out)
}

/// The ML config parameters the flags stand for, for `kind`.
fn params_for(kind: ModelKind, args: &RecommendArgs) -> Map<String, Value> {
    let mut p = Map::new();
    let mut put = |name: &str, v: Option<Value>| {
        if let Some(v) = v {
            p.insert(name.to_string(), v);
        }
    };
    match kind {
        ModelKind::Als => {
            put("n_factors", args.factors.map(Value::from));
            put("n_epochs", args.iterations.map(Value::from));
            put("reg_all", args.regularization.map(Value::from));
            put("alpha", args.alpha.map(Value::from));
            put("random_state", args.seed.map(Value::from));
        }
        ModelKind::Ease => put("lambda", args.regularization.map(Value::from)),
        ModelKind::Popularity => put("window_days", Some(365.into())),
        _ => {}
    }
    p
}

fn metrics_json(m: &Metrics, fit_seconds: f64) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("fit_seconds".into(), json!(fit_seconds));
    o.insert("users_evaluated".into(), json!(m.users_evaluated));
    o.insert("precision".into(), json!(m.precision));
    o.insert("recall".into(), json!(m.recall));
    o.insert("ndcg".into(), json!(m.ndcg));
    o.insert("hit_rate".into(), json!(m.hit_rate));
    o.insert("map".into(), json!(m.map));
    o.insert("coverage".into(), json!(m.coverage));
    o
}

fn fit_and_evaluate(
    kind: ModelKind,
    params: &Map<String, Value>,
    input: &TrainInput<'_>,
    test: &[Interaction],
    k: usize,
) -> anyhow::Result<(Box<dyn TrainedModel>, Map<String, Value>)> {
    let started = Instant::now();
    let model = registry::fit(kind, params, input).with_context(|| format!("training {kind}"))?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let metrics = evaluate(input.data, test, k, |history| {
        model
            .recommend(history, k, &[])
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    });
    let mut out = Map::new();
    out.insert("model".into(), json!(kind.name()));
    out.extend(metrics_json(&metrics, fit_seconds));
    Ok((model, out))
}

/// Trains, evaluates and (with `--output`) writes the lists; returns the JSON report.
pub fn recommend(args: &RecommendArgs) -> anyhow::Result<Value> {
    let kind: ModelKind = args.model.parse().map_err(|_| {
        let valid: Vec<&str> = ModelKind::ALL.iter().map(|k| k.name()).collect();
        anyhow::anyhow!(
            "unknown model `{}` (valid: {})",
            args.model,
            valid.join(", ")
        )
    })?;
    if args.k == 0 {
        bail!("--k must be at least 1");
    }
    let train = read_interactions(&args.train)?;
    let test = read_interactions(&args.test)?;
    if train.is_empty() {
        bail!("{}: no interactions", args.train.display());
    }
    let data = Dataset::from_interactions(&train, None);
    let now = train.iter().map(|i| i.timestamp).max().unwrap_or(0);
    let input = TrainInput {
        data: &data,
        interactions: &train,
        item_created_at: &[],
        item_embeddings: &[],
        item_category: &[],
        item_price: &[],
        now,
        seed: args.seed.unwrap_or(42),
    };
    let params = params_for(kind, args);
    let (model, mut report) = fit_and_evaluate(kind, &params, &input, &test, args.k)?;
    let baseline_kind = ModelKind::Popularity;
    let (_, baseline) = fit_and_evaluate(
        baseline_kind,
        &params_for(baseline_kind, args),
        &input,
        &test,
        args.k,
    )?;
    if let Some(path) = &args.output {
        write_lists(path, model.as_ref(), &data, &test, args.k)?;
    }
    let test_users: HashSet<&str> = test.iter().map(|i| i.user.as_str()).collect();
    report.insert("k".into(), json!(args.k));
    report.insert("parameters".into(), Value::Object(params));
    report.insert(
        "train".into(),
        json!({"interactions": train.len(), "users": data.n_users(), "items": data.n_items()}),
    );
    report.insert(
        "test".into(),
        json!({"interactions": test.len(), "users": test_users.len()}),
    );
    report.insert("baseline".into(), Value::Object(baseline));
    Ok(Value::Object(report))
}

/// Each TEST user's top k (first-seen order), `user_id,rank,item_id` with rank from 1.
fn write_lists(
    path: &Path,
    model: &dyn TrainedModel,
    data: &Dataset,
    test: &[Interaction],
    k: usize,
) -> anyhow::Result<()> {
    let name = path.display();
    let mut w = csv::Writer::from_path(path).with_context(|| format!("cannot write {name}"))?;
    w.write_record(["user_id", "rank", "item_id"])?;
    let mut seen: HashSet<&str> = HashSet::new();
    for it in test {
        if !seen.insert(it.user.as_str()) {
            continue;
        }
        let history = data
            .users
            .get(&it.user)
            .map(|row| data.user_items.row_pairs(row as usize))
            .unwrap_or_default();
        for (rank, (item, _)) in model.recommend(&history, k, &[]).into_iter().enumerate() {
            let id = data.items.id(item).unwrap_or_default();
            w.write_record([it.user.as_str(), &(rank + 1).to_string(), id])?;
        }
    }
    w.flush().with_context(|| format!("cannot write {name}"))?;
    Ok(())
}
