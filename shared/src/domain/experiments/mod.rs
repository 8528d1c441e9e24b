//! A/B experiments on recommendation configs (issue 13, part 6): the records, the
//! one-running-experiment-per-type rule, assignment of callers to arms ([`assignment`]), the arm
//! counters ([`count`]) and the results with their significance ([`results`]).
//!
//! An experiment compares two to [`MAX_ARMS`] arms on one recommendation type (`homepage`,
//! `product_page`, `cart`, `checkout`, `personalized`); each arm serves an ML config (a `hybrid`
//! blend or a model config) to its traffic share (percent, summing to 100). The arm named
//! `control` is the control, else the first arm. Callers are assigned by a stable hash
//! ([`crate::reco::abtest`]), so nothing is stored to keep a user in their arm.
//!
//! **One running experiment per type** is kept by a lock item (`EXPERIMENTS` /
//! `RUNNING#<type>`) put with `ItemNotExists` in the transaction that writes the experiment, and
//! deleted in the transaction that stops it (conditioned on still being running): two concurrent
//! creates cannot both succeed, in DynamoDB or in the local store. The lock carries the arms, so
//! assignment reads one small item per type ([`assignment`], cached per instance).
//!
//! **Stopping** records the winner ([`crate::reco::abtest::winner`] on the figures at that
//! moment) and, when asked, promotes it: the winner's config is activated through the existing
//! activation transaction ([`crate::domain::ml_models::configs::activate`]), after the stop (a
//! failed activation leaves the experiment stopped with its winner named; activate by hand).

mod assign;
mod counters;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ml_models::{ModelType, configs};
use crate::error::FieldError;
use crate::reco::abtest;
use crate::store::{
    self, Condition, ItemStore, PK, Query, SK, StoreError, StoreResult, TxOp, Update, keys,
};

pub use assign::{CACHE_TTL, RunningCache, assignment, assignment_with};
pub use counters::{ArmResults, Results, count, results};

/// The arm a served list belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArmRef {
    pub experiment_id: String,
    pub arm: String,
}

/// The arm a caller is in for a recommendation type, and the config that arm serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub arm: ArmRef,
    /// An ML config id (a `hybrid` config, or a model config) whose parameters the arm serves.
    pub config_id: String,
}

/// What an arm's counters count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmEvent {
    /// Items shown in one served list.
    Impressions(u32),
    Click,
    /// An attributed purchase line and its revenue.
    Conversion {
        revenue_cents: i64,
    },
}

/// The recommendation types an experiment can run on.
pub const RECOMMENDATION_TYPES: [&str; 5] = [
    "homepage",
    "product_page",
    "cart",
    "checkout",
    "personalized",
];

pub const MIN_ARMS: usize = 2;
pub const MAX_ARMS: usize = 8;
/// Longest arm name (letters, digits, `_` and `-`: it is part of counter keys).
pub const MAX_ARM_NAME: usize = 40;
/// The arm name that makes an arm the control wherever it is.
pub const CONTROL: &str = "control";

/// One arm: a name, the config it serves, its traffic share in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arm {
    pub name: String,
    pub config_id: String,
    pub traffic_share: f64,
}

impl Arm {
    /// The share in basis points (validated on creation; 0 for a corrupt record).
    pub fn basis_points(&self) -> u32 {
        abtest::percent_to_basis_points(self.traffic_share).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentStatus {
    Running,
    Stopped,
}

impl ExperimentStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
        }
    }
}

/// A stored experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub recommendation_type: String,
    pub arms: Vec<Arm>,
    /// The control arm's name.
    pub control: String,
    pub status: ExperimentStatus,
    pub started_at: String,
    #[serde(default)]
    pub stopped_at: Option<String>,
    /// The winning arm's name, recorded when the experiment stops.
    #[serde(default)]
    pub winner: Option<String>,
    /// The config activated when the experiment stopped with `promote_winner`.
    #[serde(default)]
    pub promoted_config_id: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
}

impl Experiment {
    /// The index of the control arm.
    pub fn control_index(&self) -> usize {
        self.arms
            .iter()
            .position(|a| a.name == self.control)
            .unwrap_or(0)
    }

    pub fn arm(&self, name: &str) -> Option<&Arm> {
        self.arms.iter().find(|a| a.name == name)
    }
}

/// A validated request for a new experiment (its config ids are checked by [`create`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewExperiment {
    pub name: String,
    pub description: Option<String>,
    pub recommendation_type: String,
    pub arms: Vec<Arm>,
}

fn text(
    body: &Value,
    field: &str,
    max: usize,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match body.get(field) {
        None | Some(Value::Null) => {
            if required {
                errors.push(FieldError::new(field, "Field required"));
            }
            None
        }
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > max {
                errors.push(FieldError::new(field, format!("at most {max} characters")));
                None
            } else if s.is_empty() && required {
                errors.push(FieldError::new(field, "must not be empty"));
                None
            } else {
                Some(s.to_string())
            }
        }
        Some(_) => {
            errors.push(FieldError::new(field, "must be a string"));
            None
        }
    }
}

fn valid_arm_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ARM_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks the shape of a create request (`name`, `description`, `recommendation_type`, `arms`:
/// `[{name, config_id, traffic_share}]`); every error names its field (`arms[1].traffic_share`).
pub fn parse_new(body: &Value) -> Result<NewExperiment, Vec<FieldError>> {
    let mut errors = Vec::new();
    if !body.is_object() {
        return Err(vec![FieldError::new("body", "must be a JSON object")]);
    }
    let name = text(body, "name", 100, true, &mut errors);
    let description = text(body, "description", 1000, false, &mut errors);
    let recommendation_type = text(body, "recommendation_type", 40, true, &mut errors);
    if let Some(t) = &recommendation_type
        && !RECOMMENDATION_TYPES.contains(&t.as_str())
    {
        errors.push(FieldError::new(
            "recommendation_type",
            format!("must be one of {}", RECOMMENDATION_TYPES.join(", ")),
        ));
    }
    let mut arms = Vec::new();
    match body.get("arms") {
        None | Some(Value::Null) => errors.push(FieldError::new("arms", "Field required")),
        Some(Value::Array(list)) => {
            if list.len() < MIN_ARMS || list.len() > MAX_ARMS {
                errors.push(FieldError::new(
                    "arms",
                    format!(
                        "an experiment has {MIN_ARMS} to {MAX_ARMS} arms, not {}",
                        list.len()
                    ),
                ));
            }
            let mut total_bp: u64 = 0;
            let mut shares_valid = true;
            for (i, arm) in list.iter().enumerate() {
                if !arm.is_object() {
                    errors.push(FieldError::new(
                        format!("arms[{i}]"),
                        "must be an object with name, config_id and traffic_share",
                    ));
                    shares_valid = false;
                    continue;
                }
                let field = |f: &str| format!("arms[{i}].{f}");
                let arm_name = match arm.get("name") {
                    Some(Value::String(s)) if valid_arm_name(s.trim()) => {
                        let s = s.trim().to_string();
                        if arms.iter().any(|a: &Arm| a.name.eq_ignore_ascii_case(&s)) {
                            errors.push(FieldError::new(
                                field("name"),
                                format!("arm name '{s}' is used twice"),
                            ));
                        }
                        Some(s)
                    }
                    None | Some(Value::Null) => {
                        errors.push(FieldError::new(field("name"), "Field required"));
                        None
                    }
                    Some(_) => {
                        errors.push(FieldError::new(
                            field("name"),
                            format!(
                                "1-{MAX_ARM_NAME} letters, digits, '_' or '-' (it names counters)"
                            ),
                        ));
                        None
                    }
                };
                let config_id = match arm.get("config_id") {
                    Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 100 => {
                        Some(s.trim().to_string())
                    }
                    None | Some(Value::Null) => {
                        errors.push(FieldError::new(field("config_id"), "Field required"));
                        None
                    }
                    Some(_) => {
                        errors.push(FieldError::new(
                            field("config_id"),
                            "must be an ML config id (a string of 1-100 characters)",
                        ));
                        None
                    }
                };
                let share = match arm.get("traffic_share") {
                    Some(Value::Number(n)) => {
                        match n.as_f64().and_then(abtest::percent_to_basis_points) {
                            Some(bp) if bp < abtest::BASIS_POINTS => {
                                total_bp += u64::from(bp);
                                n.as_f64()
                            }
                            _ => {
                                errors.push(FieldError::new(
                                    field("traffic_share"),
                                    "a percentage above 0 and below 100, at most two decimals",
                                ));
                                None
                            }
                        }
                    }
                    None | Some(Value::Null) => {
                        errors.push(FieldError::new(field("traffic_share"), "Field required"));
                        None
                    }
                    Some(_) => {
                        errors.push(FieldError::new(field("traffic_share"), "must be a number"));
                        None
                    }
                };
                shares_valid &= share.is_some();
                if let (Some(name), Some(config_id), Some(traffic_share)) =
                    (arm_name, config_id, share)
                {
                    arms.push(Arm {
                        name,
                        config_id,
                        traffic_share,
                    });
                }
            }
            if shares_valid && total_bp != u64::from(abtest::BASIS_POINTS) {
                errors.push(FieldError::new(
                    "arms",
                    format!(
                        "traffic shares must sum to 100; these sum to {}",
                        total_bp as f64 / 100.0
                    ),
                ));
            }
        }
        Some(_) => errors.push(FieldError::new("arms", "must be a list of arms")),
    }
    match (name, recommendation_type, errors.is_empty()) {
        (Some(name), Some(recommendation_type), true) => Ok(NewExperiment {
            name,
            description,
            recommendation_type,
            arms,
        }),
        _ => Err(errors),
    }
}

/// Why [`create`] did not create.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// An arm names a config that does not exist or cannot be served (`arms[i].config_id`).
    #[error("invalid arms")]
    Invalid(Vec<FieldError>),
    /// Another experiment runs on this recommendation type.
    #[error("experiment {experiment_id} is running on this type")]
    Running { experiment_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new experiment id: UUID v7, so that the records sort by creation time.
fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn experiment_item(e: &Experiment) -> StoreResult<store::Item> {
    let mut item = store::to_item(e)?;
    let key = keys::experiment(&e.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "experiment".into());
    Ok(item)
}

/// The lock item: the running experiment of a type, with what assignment needs.
fn running_item(e: &Experiment) -> StoreResult<store::Item> {
    let key = keys::experiment_running(&e.recommendation_type);
    let mut item = store::Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("experiment_id".into(), e.id.clone().into());
    item.insert(
        "arms".into(),
        serde_json::to_value(&e.arms)
            .map_err(|err| StoreError::Invalid(format!("arms do not serialise: {err}")))?,
    );
    item.insert("control".into(), e.control.clone().into());
    item.insert("started_at".into(), e.started_at.clone().into());
    Ok(item)
}

/// Starts an experiment: checks each arm's config, then writes the record and the type's lock
/// in one transaction.
pub async fn create(
    store: &dyn ItemStore,
    new: NewExperiment,
    created_by: Option<String>,
) -> Result<Experiment, CreateError> {
    let mut errors = Vec::new();
    for (i, arm) in new.arms.iter().enumerate() {
        let field = format!("arms[{i}].config_id");
        match configs::get(store, &arm.config_id).await? {
            None => errors.push(FieldError::new(
                field,
                format!(
                    "arm '{}': no ML config with id '{}'",
                    arm.name, arm.config_id
                ),
            )),
            Some(c) if ModelType::parse(&c.model_type) == Some(ModelType::Interactions) => {
                errors.push(FieldError::new(
                    field,
                    format!(
                        "arm '{}': config '{}' is an interactions config (training weights), not something served",
                        arm.name, arm.config_id
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if !errors.is_empty() {
        return Err(CreateError::Invalid(errors));
    }
    let control = new
        .arms
        .iter()
        .find(|a| a.name == CONTROL)
        .or(new.arms.first())
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let experiment = Experiment {
        id: new_id(),
        name: new.name,
        description: new.description,
        recommendation_type: new.recommendation_type,
        arms: new.arms,
        control,
        status: ExperimentStatus::Running,
        started_at: store::now_rfc3339(),
        stopped_at: None,
        winner: None,
        promoted_config_id: None,
        created_by,
    };
    let ops = vec![
        TxOp::Put {
            item: experiment_item(&experiment)?,
            condition: Some(Condition::ItemNotExists),
        },
        TxOp::Put {
            item: running_item(&experiment)?,
            condition: Some(Condition::ItemNotExists),
        },
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(experiment),
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
            let holder = store
                .get(&keys::experiment_running(&experiment.recommendation_type))
                .await?
                .and_then(|i| i.get("experiment_id")?.as_str().map(str::to_string))
                .unwrap_or_default();
            Err(CreateError::Running {
                experiment_id: holder,
            })
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get(store: &dyn ItemStore, id: &str) -> StoreResult<Option<Experiment>> {
    store
        .get(&keys::experiment(id))
        .await?
        .map(store::from_item)
        .transpose()
}

/// Every experiment, newest first.
pub async fn list(store: &dyn ItemStore) -> StoreResult<Vec<Experiment>> {
    store::query_all(
        store,
        Query::table(keys::EXPERIMENTS_PK)
            .begins_with(keys::EXPERIMENT_SK_PREFIX)
            .reverse(),
    )
    .await?
    .into_iter()
    .map(store::from_item)
    .collect()
}

/// What stopping did.
#[derive(Debug, Clone, PartialEq)]
pub enum StopOutcome {
    Stopped {
        experiment: Experiment,
        results: Results,
        /// The config promoted and what activation did (when asked to promote).
        promotion: Option<(String, configs::Activation)>,
    },
    /// It had already stopped (at `experiment.stopped_at`): nothing changed.
    AlreadyStopped(Experiment),
    NotFound,
}

/// Stops a running experiment, recording its winner, and with `promote_winner` activates the
/// winner's config (see the module docs).
pub async fn stop(
    store: &dyn ItemStore,
    id: &str,
    promote_winner: bool,
) -> StoreResult<StopOutcome> {
    let Some(mut experiment) = get(store, id).await? else {
        return Ok(StopOutcome::NotFound);
    };
    if experiment.status == ExperimentStatus::Stopped {
        return Ok(StopOutcome::AlreadyStopped(experiment));
    }
    let results = results(store, &experiment).await?;
    let winner = results.leader.clone();
    let stopped_at = store::now_rfc3339();
    let ops = vec![
        TxOp::Update {
            key: keys::experiment(id),
            update: Update::new()
                .set("status", ExperimentStatus::Stopped.name())
                .set("stopped_at", stopped_at.clone())
                .set("winner", winner.clone()),
            condition: Some(Condition::eq("status", ExperimentStatus::Running.name())),
        },
        // The lock is this experiment's (or absent, which only a damaged table would show).
        TxOp::Delete {
            key: keys::experiment_running(&experiment.recommendation_type),
            condition: Some(Condition::Or(vec![
                Condition::AttrNotExists("experiment_id".into()),
                Condition::eq("experiment_id", id),
            ])),
        },
    ];
    match store.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&0) => {
            return Ok(match get(store, id).await? {
                Some(e) => StopOutcome::AlreadyStopped(e),
                None => StopOutcome::NotFound,
            });
        }
        Err(e) => return Err(e),
    }
    experiment.status = ExperimentStatus::Stopped;
    experiment.stopped_at = Some(stopped_at);
    experiment.winner = Some(winner.clone());
    let mut promotion = None;
    if promote_winner && let Some(arm) = experiment.arm(&winner) {
        let config_id = arm.config_id.clone();
        let outcome = configs::activate(store, &config_id).await?;
        if outcome != configs::Activation::NotFound {
            store
                .update(
                    &keys::experiment(id),
                    Update::new().set("promoted_config_id", config_id.clone()),
                    Some(Condition::ItemExists),
                )
                .await?;
            experiment.promoted_config_id = Some(config_id.clone());
        }
        promotion = Some((config_id, outcome));
    }
    Ok(StopOutcome::Stopped {
        experiment,
        results,
        promotion,
    })
}
