//! The IAM policies of `template.yaml` allow what the code calls.
//!
//! Every `events/*.json` is replayed through its function's router, and every
//! `events/jobs/*.json` through the jobs function's entry point, on recording store and blob
//! decorators (`shared::testkit::iam`) that note the IAM action each call needs in AWS
//! (`dynamodb:Query` on `table/.../index/GSI1`, `s3:PutObject` on `videos/<id>/video.mp4`, ...).
//! Before an event runs, what it names is created (through the functions' own routers where
//! possible) so that it takes its success path, not a 404 with few calls: a cart line, an order
//! for the fixed order id, a search, a textbook session, teachers and a clustering; events that
//! still do not succeed are printed. Only the event's own invocation is recorded, not the
//! seeding before it.
//!
//! Each action is then checked against that function's `Policies` statements in `template.yaml`
//! (actions and resources with IAM wildcards, `!Sub`/`!GetAtt` resolved to the function's table
//! and the bucket its `BUCKET_NAME` names): a missing grant fails the test, naming the function,
//! action, resource and event file, since in AWS it would be an `AccessDenied`. Granted actions
//! that no event used are printed (not failed): candidates for tightening the template.
//! Statements with `Condition`, `NotAction` or `NotResource`, and SAM policy templates, are
//! refused with a message (this test does not evaluate them). Bedrock calls are not recorded.
//!
//! A new function is covered once it has a `template.yaml` resource with a `Binary` and its
//! events in `events/manifest.json`.

use std::collections::{BTreeMap, BTreeSet};

use api_tests::replay::{
    manifest, prepare_event, reach_success_path, repo, router_of, seed_for_jobs,
};
use axum::body::Body;
use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use shared::testkit::{
    TestApp,
    iam::{IamCall, IamRecorder, IamResource, recording_state},
};
use tower::ServiceExt;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

// ---- template.yaml ------------------------------------------------------------------------

/// One `Allow` or `Deny` statement with resolved resource ARNs.
#[derive(Debug)]
struct Statement {
    sid: String,
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
}

/// A function of the template: its policy and the ARNs its table and bucket resolve to.
#[derive(Debug)]
struct Function {
    logical_id: String,
    statements: Vec<Statement>,
    table_arn: String,
    bucket_arn: Option<String>,
}

struct Template {
    doc: Yaml,
}

impl Template {
    fn load() -> Self {
        let text = std::fs::read_to_string(repo().join("template.yaml"))
            .unwrap_or_else(|e| panic!("template.yaml: {e}"));
        let doc = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("template.yaml: {e}"));
        Self { doc }
    }

    fn resources(&self) -> &serde_norway::Mapping {
        self.doc["Resources"]
            .as_mapping()
            .unwrap_or_else(|| panic!("template.yaml: no Resources"))
    }

    fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.doc["Resources"][logical_id]["Type"].as_str()
    }

    /// The ARN a `Logical.Arn` attribute resolves to (tables and buckets), with the logical id as
    /// the name.
    fn arn_of(&self, logical_id: &str) -> String {
        match self.resource_type(logical_id) {
            Some("AWS::DynamoDB::Table") => {
                format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{logical_id}")
            }
            Some("AWS::S3::Bucket") => format!("arn:aws:s3:::{logical_id}"),
            Some("AWS::Serverless::Function") => {
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}")
            }
            Some("AWS::SecretsManager::Secret") => {
                format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{logical_id}")
            }
            other => panic!("template.yaml: no ARN known for {logical_id} ({other:?})"),
        }
    }

    /// Resolves `${...}` in a `!Sub` string: `X.Arn`, pseudo parameters, parameter defaults.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .unwrap_or_else(|| panic!("template.yaml: unclosed ${{ in {text}"));
            let name = &after[..end];
            out.push_str(&self.variable(name));
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn variable(&self, name: &str) -> String {
        match name {
            "AWS::Partition" => "aws".into(),
            "AWS::Region" => REGION.into(),
            "AWS::AccountId" => ACCOUNT.into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            _ => {
                if let Some(logical) = name.strip_suffix(".Arn") {
                    return self.arn_of(logical);
                }
                if let Some(default) = self.doc["Parameters"][name]["Default"].as_str() {
                    return default.to_string();
                }
                // `!Ref` of a secret is its ARN (the functions' JwtSecretRead statements).
                if self.resource_type(name) == Some("AWS::SecretsManager::Secret") {
                    return self.arn_of(name);
                }
                panic!("template.yaml: cannot resolve ${{{name}}}")
            }
        }
    }

    /// A resource entry of a statement: a plain ARN, `!GetAtt X.Arn` or `!Sub '...'`.
    fn resolve(&self, value: &Yaml) -> String {
        match value {
            Yaml::String(s) => s.clone(),
            Yaml::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                match (tag.trim_start_matches('!'), &tagged.value) {
                    ("GetAtt", Yaml::String(s)) => self.variable(s),
                    ("GetAtt", Yaml::Sequence(parts)) => {
                        let parts: Vec<&str> = parts.iter().filter_map(Yaml::as_str).collect();
                        self.variable(&parts.join("."))
                    }
                    ("Sub", Yaml::String(s)) => self.substitute(s),
                    ("Ref", Yaml::String(s)) => self.variable(s),
                    _ => panic!("template.yaml: unsupported resource {value:?}"),
                }
            }
            other => panic!("template.yaml: unsupported resource {other:?}"),
        }
    }

    /// The logical id a `!Ref X` environment variable of the function (or of Globals) names.
    fn env_ref(&self, function: &Yaml, var: &str) -> Option<String> {
        let own = &function["Properties"]["Environment"]["Variables"][var];
        let global = &self.doc["Globals"]["Function"]["Environment"]["Variables"][var];
        let value = if own.is_null() { global } else { own };
        match value {
            Yaml::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_string),
            _ => None,
        }
    }

    /// Every `AWS::Serverless::Function` by its `Binary` (the function's name in the manifest).
    fn functions(&self) -> BTreeMap<String, Function> {
        let mut out = BTreeMap::new();
        for (id, resource) in self.resources() {
            let id = id.as_str().unwrap_or_default();
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("template.yaml: {id} has no Binary"));
            let table = self
                .env_ref(resource, "TABLE_NAME")
                .unwrap_or_else(|| panic!("template.yaml: {id}: TABLE_NAME is no !Ref"));
            let bucket = self.env_ref(resource, "BUCKET_NAME");
            let mut statements = Vec::new();
            let policies = resource["Properties"]["Policies"].as_sequence();
            for policy in policies.into_iter().flatten() {
                let Some(list) = policy["Statement"].as_sequence() else {
                    panic!(
                        "template.yaml: {id}: only inline `- Statement:` policies are checked, \
                         not {policy:?}"
                    );
                };
                for st in list {
                    statements.push(self.statement(id, st));
                }
            }
            out.insert(
                binary.to_string(),
                Function {
                    logical_id: id.to_string(),
                    statements,
                    table_arn: self.arn_of(&table),
                    bucket_arn: bucket.map(|b| self.arn_of(&b)),
                },
            );
        }
        out
    }

    fn statement(&self, function: &str, st: &Yaml) -> Statement {
        let sid = st["Sid"].as_str().unwrap_or("(no Sid)").to_string();
        for unsupported in ["NotAction", "NotResource", "Condition"] {
            assert!(
                st[unsupported].is_null(),
                "template.yaml: {function}/{sid}: {unsupported} is not checked by this test; \
                 extend tests/tests/iam_policies.rs"
            );
        }
        let list = |v: &Yaml| -> Vec<Yaml> {
            match v {
                Yaml::Sequence(s) => s.clone(),
                Yaml::Null => Vec::new(),
                other => vec![other.clone()],
            }
        };
        Statement {
            allow: st["Effect"].as_str() == Some("Allow"),
            actions: list(&st["Action"])
                .iter()
                .map(|a| a.as_str().unwrap_or_default().to_string())
                .collect(),
            resources: list(&st["Resource"])
                .iter()
                .map(|r| self.resolve(r))
                .collect(),
            sid,
        }
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
/// (Two wildcards only, no character classes: a crate would add nothing.)
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl Function {
    fn arn(&self, resource: &IamResource) -> String {
        let bucket = || {
            self.bucket_arn
                .clone()
                .unwrap_or_else(|| panic!("{} uses blobs but has no BUCKET_NAME", self.logical_id))
        };
        match resource {
            IamResource::Table => self.table_arn.clone(),
            IamResource::Index(name) => format!("{}/index/{name}", self.table_arn),
            IamResource::Bucket { .. } => bucket(),
            IamResource::Object(key) => format!("{}/{key}", bucket()),
        }
    }

    fn matching(&self, action: &str, arn: &str) -> impl Iterator<Item = &Statement> {
        self.statements.iter().filter(move |st| {
            st.actions
                .iter()
                .any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
                && st.resources.iter().any(|r| glob(r, arn))
        })
    }

    /// Allowed: some `Allow` statement matches and no `Deny` does.
    fn allows(&self, action: &str, arn: &str) -> bool {
        let mut allowed = false;
        for st in self.matching(action, arn) {
            if !st.allow {
                return false;
            }
            allowed = true;
        }
        allowed
    }
}

// ---- replay -------------------------------------------------------------------------------

/// A use of an action: which event needed it on which resource, through which method.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Use {
    function: String,
    action: &'static str,
    arn: String,
    method: &'static str,
    event: String,
}

/// Replays every HTTP event through its router on recording backends; returns the noted calls
/// with the event file they came from, and the events that did not succeed even so.
async fn http_calls() -> (Vec<(String, String, Vec<IamCall>)>, Vec<String>) {
    let mut out = Vec::new();
    let mut unsuccessful = Vec::new();
    for entry in manifest() {
        let file = entry["file"].as_str().unwrap_or_default().to_string();
        let function = entry["function"].as_str().unwrap_or_default().to_string();
        let router =
            router_of(&function).unwrap_or_else(|| panic!("{file}: unknown function {function}"));
        let (app, recorder) = TestApp::recording(router);
        let prepared = prepare_event(&app, &entry).await;
        let raw = reach_success_path(&app, &function, prepared).await;
        let request = lambda_http::request::from_str(&raw)
            .unwrap_or_else(|e| panic!("{file}: not an API Gateway event: {e}"));
        let request = request.map(|b| Body::from(b.to_vec()));
        let service = shared::http::service(app.router.clone(), &app.state.config);
        recorder.start();
        let response = service
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let calls = recorder.stop();
        let status = response.status();
        // Success, or the status the manifest expects without the setup above.
        assert!(
            status.is_success()
                || Some(u64::from(status.as_u16())) == entry["expect_status"].as_u64(),
            "{file} via {function}: {status}"
        );
        if !status.is_success() {
            unsuccessful.push(format!("{file} ({status})"));
        }
        out.push((function, file, calls));
    }
    (out, unsuccessful)
}

/// Runs every `events/jobs/*.json` through `jobs::handle` on recording backends.
async fn job_calls() -> Vec<(String, String, Vec<IamCall>)> {
    let dir = repo().join("events/jobs");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("events/jobs: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no events/jobs/*.json");
    let mut out = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(dir.join(&file)).unwrap_or_else(|e| panic!("jobs/{file}: {e}"));
        let event: Json =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("jobs/{file}: {e}"));
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (state, recorder): (_, IamRecorder) =
            recording_state(tmp.path().to_path_buf()).unwrap_or_else(|e| panic!("state: {e}"));
        seed_for_jobs(&state, &event).await;
        recorder.start();
        let report = jobs_fn::handle(&state, event).await;
        let calls = recorder.stop();
        report.unwrap_or_else(|e| panic!("jobs/{file}: {e}"));
        out.push(("jobs".to_string(), format!("jobs/{file}"), calls));
    }
    out
}

#[tokio::test]
async fn template_policies_allow_every_call_the_events_make() {
    let template = Template::load();
    let functions = template.functions();
    assert!(
        functions.contains_key("jobs") && functions.len() >= 2,
        "template.yaml: functions not found: {:?}",
        functions.keys()
    );

    let (mut recorded, unsuccessful) = http_calls().await;
    recorded.extend(job_calls().await);
    // Their success paths are not checked: a new event file that stops at a 4xx shows up here.
    for event in &unsuccessful {
        println!("event did not succeed, only its failure path is checked: {event}");
    }

    let mut uses = BTreeSet::new();
    for (name, event, calls) in &recorded {
        let function = functions
            .get(name)
            .unwrap_or_else(|| panic!("{event}: no function with Binary {name} in template.yaml"));
        for call in calls {
            uses.insert(Use {
                function: name.clone(),
                action: call.action,
                arn: function.arn(&call.resource),
                method: call.method,
                event: event.clone(),
            });
        }
    }
    assert!(
        uses.iter().any(|u| u.function == "jobs") && uses.iter().any(|u| u.function == "auth"),
        "the recorders noted nothing for some functions: is recording wired to the state?"
    );

    let mut missing = BTreeMap::<(String, &str, String), Vec<String>>::new();
    for u in &uses {
        let function = &functions[&u.function];
        if !function.allows(u.action, &u.arn) {
            missing
                .entry((function.logical_id.clone(), u.action, u.arn.clone()))
                .or_default()
                .push(format!("{} ({})", u.event, u.method));
        }
    }

    // The reverse, loosely: statements' actions that no event needed (reported, not failed;
    // an action may serve a path no event file takes).
    for (name, function) in &functions {
        for st in &function.statements {
            for action in &st.actions {
                let used = uses.iter().any(|u| {
                    &u.function == name
                        && glob(&action.to_ascii_lowercase(), &u.action.to_ascii_lowercase())
                        && st.resources.iter().any(|r| glob(r, &u.arn))
                });
                if !used && !action.starts_with("bedrock:") {
                    println!(
                        "granted but not used by any event: {}/{}: {action} on {:?}",
                        function.logical_id, st.sid, st.resources
                    );
                }
            }
        }
    }

    let report: Vec<String> = missing
        .iter()
        .map(|((function, action, arn), events)| {
            let mut events = events.clone();
            events.dedup();
            format!(
                "{function}: {action} on {arn} is not allowed by its policy; needed by {}",
                events.join(", ")
            )
        })
        .collect();
    assert!(
        report.is_empty(),
        "template.yaml denies calls the code makes (AccessDenied in AWS):\n{}",
        report.join("\n")
    );
}

#[test]
fn iam_wildcards_match_like_iam() {
    assert!(glob("dynamodb:*", "dynamodb:Query"));
    assert!(glob(
        "arn:aws:s3:::b/videos/*",
        "arn:aws:s3:::b/videos/x/video.mp4"
    ));
    assert!(!glob("arn:aws:s3:::b/videos/*", "arn:aws:s3:::b/models/x"));
    assert!(!glob("arn:aws:s3:::b/videos/*", "arn:aws:s3:::b"));
    assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
    assert!(glob("t/index/*", "t/index/GSI1") && !glob("t", "t/index/GSI1"));
}

/// The check itself fails on a missing grant, names it, and honours index ARNs and key prefixes.
#[test]
fn a_call_outside_the_policy_is_refused() {
    let template = Template::load();
    let functions = template.functions();
    let cart = &functions["cart"];
    let table = cart.arn(&IamResource::Table);
    assert!(cart.allows("dynamodb:GetItem", &table));
    // A store.scan() in the cart function would be an AccessDenied.
    assert!(!cart.allows("dynamodb:Scan", &table));
    // The cart's read statement covers the table, not its indexes.
    assert!(!cart.allows("dynamodb:Query", &cart.arn(&IamResource::Index("GSI1"))));
    let videos = &functions["videos"];
    let video = IamResource::Object("videos/v/video.mp4".into());
    assert!(videos.allows("s3:PutObject", &videos.arn(&video)));
    let elsewhere = IamResource::Object("banners/b.png".into());
    assert!(!videos.allows("s3:PutObject", &videos.arn(&elsewhere)));
    // The classroom function's bucket is the artifacts bucket (its own BUCKET_NAME).
    let classroom = &functions["classroom"];
    assert!(
        classroom
            .arn(&IamResource::Object("models/classroom/x".into()))
            .starts_with("arn:aws:s3:::ArtifactsBucket/")
    );
}
