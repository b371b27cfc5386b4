//! `deploy/grafana` against this store: every provisioning file parses and names a datasource
//! that exists, and every PostgreSQL query of the dashboards (panels and variables) and of the
//! alert rules, expanded the way Grafana expands it, runs on the real PostgreSQL store's schema
//! filled through the store's own write path, with the columns Grafana needs and the rows the
//! seeded garden implies. The alert rules' thresholds are applied to their query results to
//! check that each rule fires for exactly the seeded trouble.
//!
//! The PostgreSQL part skips (or fails with `PLANTKEEPER_REQUIRE_SERVICES=1`) like the other
//! PostgreSQL tests, each run in a schema of its own.

mod grafana_support;
mod postgres_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use grafana_support::expand::{TimeRange, VariableValue, expand};
use grafana_support::{files_under, grafana_dir, items, parse_file, text};
use plantkeeper_store::testsuite::{reading, report};
use plantkeeper_store::{Event, StateChange, Store, WriteBatch};
use postgres_support::{TestSchema, admin_client, open_in};
use serde_json::Value;
use tokio_postgres::types::Type;

const POSTGRES_UID: &str = "plantkeeper-postgres";
const POSTGRES_TYPE: &str = "grafana-postgresql-datasource";
const EXPRESSION_UID: &str = "__expr__";

/// The columns each PostgreSQL query must return, in order: one entry per query of the
/// provisioning (the test fails on a query missing here, or an entry matching no query).
const EXPECTED_COLUMNS: &[(&str, &[&str])] = &[
    (
        "plantkeeper-overview/Nodes/A",
        &["node", "status", "last report", "silent for (s)"],
    ),
    (
        "plantkeeper-overview/Newest values/A",
        &["node", "sensor", "value", "time", "age (s)"],
    ),
    (
        "plantkeeper-overview/Outputs/A",
        &["time", "output", "state"],
    ),
    (
        "plantkeeper-overview/Events/A",
        &["time", "kind", "node", "output", "message"],
    ),
    ("plantkeeper-node/variable node", &["node"]),
    ("plantkeeper-node/variable sensor", &["sensor"]),
    (
        "plantkeeper-node/Readings of $node/A",
        &["time", "metric", "value"],
    ),
    (
        "plantkeeper-node/Readings of $node/B",
        &["time", "low threshold", "high threshold"],
    ),
    (
        "plantkeeper-node/Outputs of $node/A",
        &["time", "output", "state"],
    ),
    (
        "plantkeeper-node/Runs started per hour/A",
        &["time", "metric", "runs"],
    ),
    (
        "plantkeeper-node/Events of $node/A",
        &["time", "kind", "output", "message"],
    ),
    (
        "alert plantkeeper-node-silent/A",
        &["node", "silent_seconds"],
    ),
    (
        "alert plantkeeper-sensor-out-of-range/A",
        &["node", "sensor", "out_of_range"],
    ),
    (
        "alert plantkeeper-output-off-invalid-input/A",
        &["node", "output", "invalid_input"],
    ),
    (
        "alert plantkeeper-output-on-too-long/A",
        &["node", "output", "on_seconds"],
    ),
    ("alert plantkeeper-tank-low/A", &["node", "level"]),
];

/// For each alert rule, the label sets (string columns joined with `/`) it must fire for on
/// the seeded garden, and no other.
const EXPECTED_FIRING: &[(&str, &[&str])] = &[
    ("plantkeeper-node-silent", &["tank"]),
    ("plantkeeper-sensor-out-of-range", &["enclosure/humidity"]),
    ("plantkeeper-output-off-invalid-input", &["tank/pump"]),
    ("plantkeeper-output-on-too-long", &["bed-1/valve"]),
    ("plantkeeper-tank-low", &["tank"]),
];

/// Everything under `deploy/grafana`, parsed.
struct Provisioning {
    /// uid → type.
    datasources: BTreeMap<String, String>,
    /// (file, dashboard JSON).
    dashboards: Vec<(PathBuf, Value)>,
    /// (file, alerting provisioning document).
    alerting: Vec<(PathBuf, Value)>,
    /// (file, dashboard provider document).
    providers: Vec<(PathBuf, Value)>,
}

fn load() -> Provisioning {
    let dir = grafana_dir();
    let mut datasources = BTreeMap::new();
    for path in files_under(&dir.join("provisioning/datasources"), &["yaml", "yml"]) {
        let document = parse_file(&path);
        for source in items(&document, "/datasources") {
            let (uid, kind) = (text(source, "/uid"), text(source, "/type"));
            assert!(
                !uid.is_empty() && !kind.is_empty(),
                "{}: every datasource has an explicit uid and a type: {source}",
                path.display()
            );
            assert!(
                datasources
                    .insert(uid.to_owned(), kind.to_owned())
                    .is_none(),
                "{}: datasource uid `{uid}` is defined twice",
                path.display()
            );
        }
    }
    let parse_all = |sub: &str, extensions: &[&str]| -> Vec<(PathBuf, Value)> {
        files_under(&dir.join(sub), extensions)
            .into_iter()
            .map(|path| {
                let value = parse_file(&path);
                (path, value)
            })
            .collect()
    };
    Provisioning {
        datasources,
        dashboards: parse_all("dashboards", &["json"]),
        alerting: parse_all("provisioning/alerting", &["yaml", "yml"]),
        providers: parse_all("provisioning/dashboards", &["yaml", "yml"]),
    }
}

/// The datasource uid a panel's target uses: its own, else the panel's.
fn target_uid<'a>(panel: &'a Value, target: &'a Value) -> &'a str {
    match text(target, "/datasource/uid") {
        "" => text(panel, "/datasource/uid"),
        uid => uid,
    }
}

#[test]
fn every_provisioning_file_parses_and_names_a_known_datasource() {
    let provisioning = load();
    let known = &provisioning.datasources;
    assert_eq!(
        known.get(POSTGRES_UID).map(String::as_str),
        Some(POSTGRES_TYPE),
        "the PostgreSQL datasource has the explicit uid the dashboards use"
    );
    for kind in ["loki", "prometheus"] {
        assert!(
            known.values().any(|k| k == kind),
            "a {kind} datasource is provisioned: {known:?}"
        );
    }

    assert!(!provisioning.providers.is_empty(), "a dashboard provider");
    for (path, document) in &provisioning.providers {
        for provider in items(document, "/providers") {
            assert_eq!(
                (text(provider, "/type"), text(provider, "/options/path")),
                ("file", "/var/lib/grafana/dashboards"),
                "{}: the provider reads the mounted dashboards directory",
                path.display()
            );
        }
    }

    assert_eq!(provisioning.dashboards.len(), 3, "overview, node, logs");
    let mut dashboard_uids = BTreeSet::new();
    for (path, dashboard) in &provisioning.dashboards {
        let file = path.display();
        let uid = text(dashboard, "/uid");
        assert!(
            !uid.is_empty() && dashboard_uids.insert(uid.to_owned()),
            "{file}: a unique dashboard uid"
        );
        let mut panel_ids = BTreeSet::new();
        let panels = items(dashboard, "/panels");
        assert!(!panels.is_empty(), "{file}: has panels");
        for panel in panels {
            let title = text(panel, "/title");
            assert!(
                panel_ids.insert(panel.pointer("/id").and_then(Value::as_u64)),
                "{file}: panel `{title}` has a unique id"
            );
            let panel_uid = text(panel, "/datasource/uid");
            assert_eq!(
                known.get(panel_uid).map(String::as_str),
                Some(text(panel, "/datasource/type")),
                "{file}: panel `{title}` names a provisioned datasource uid with its type"
            );
            let targets = items(panel, "/targets");
            assert!(!targets.is_empty(), "{file}: panel `{title}` has queries");
            for target in targets {
                let uid = target_uid(panel, target);
                assert!(
                    known.contains_key(uid),
                    "{file}: panel `{title}` query {} uses unknown datasource uid `{uid}`",
                    text(target, "/refId")
                );
                if known[uid] == POSTGRES_TYPE {
                    assert!(
                        !text(target, "/rawSql").is_empty()
                            && target.pointer("/rawQuery") == Some(&Value::Bool(true)),
                        "{file}: panel `{title}`: a raw SQL query"
                    );
                }
            }
        }
        for variable in items(dashboard, "/templating/list") {
            let uid = text(variable, "/datasource/uid");
            assert!(
                text(variable, "/type") != "query" || known.contains_key(uid),
                "{file}: variable `{}` uses unknown datasource uid `{uid}`",
                text(variable, "/name")
            );
        }
    }
    for (path, dashboard) in &provisioning.dashboards {
        let links = dashboard.to_string();
        for linked in links.split("/d/").skip(1) {
            let uid = linked.split('/').next().unwrap_or_default();
            assert!(
                dashboard_uids.contains(uid),
                "{}: links to dashboard `{uid}`, which is not provisioned",
                path.display()
            );
        }
    }

    let mut rule_uids = BTreeSet::new();
    for (path, document) in &provisioning.alerting {
        let file = path.display();
        for group in items(document, "/groups") {
            for rule in items(group, "/rules") {
                let uid = text(rule, "/uid");
                assert!(
                    !uid.is_empty() && rule_uids.insert(uid.to_owned()),
                    "{file}: rule `{}` has a unique uid",
                    text(rule, "/title")
                );
                let refs: BTreeSet<&str> = items(rule, "/data")
                    .iter()
                    .map(|data| text(data, "/refId"))
                    .collect();
                assert!(
                    refs.contains(text(rule, "/condition")),
                    "{file}: rule {uid}: its condition names one of its queries"
                );
                for data in items(rule, "/data") {
                    let source = text(data, "/datasourceUid");
                    assert!(
                        source == EXPRESSION_UID || known.contains_key(source),
                        "{file}: rule {uid} uses unknown datasource uid `{source}`"
                    );
                    let input = text(data, "/model/expression");
                    assert!(
                        source != EXPRESSION_UID || refs.contains(input),
                        "{file}: rule {uid}: expression reads `{input}`, not a query of the rule"
                    );
                }
                for field in ["/annotations", "/labels"] {
                    let texts = rule
                        .pointer(field)
                        .map(Value::to_string)
                        .unwrap_or_default();
                    assert!(
                        !texts.contains('$'),
                        "{file}: rule {uid}: `$` in {field} would be taken for an environment \
                         variable by Grafana's provisioning; use {{{{ .Labels.x }}}}: {texts}"
                    );
                }
            }
        }
    }
    let expected: BTreeSet<String> = EXPECTED_FIRING
        .iter()
        .map(|(uid, _)| (*uid).to_owned())
        .collect();
    assert_eq!(rule_uids, expected, "the provisioned alert rules");
}

/// One PostgreSQL query of the provisioning.
struct Query {
    place: String,
    dashboard: Option<String>,
    format: String,
    sql: String,
    /// For a variable query: the variable's name and whether it takes several values.
    variable: Option<(String, bool)>,
}

/// Every PostgreSQL query: each dashboard's variables (in order) then panels, then rules.
fn postgres_queries(provisioning: &Provisioning) -> Vec<Query> {
    let mut queries = Vec::new();
    for (_, dashboard) in &provisioning.dashboards {
        let uid = text(dashboard, "/uid");
        for variable in items(dashboard, "/templating/list") {
            if text(variable, "/type") == "query"
                && text(variable, "/datasource/uid") == POSTGRES_UID
            {
                let name = text(variable, "/name");
                let multi = ["/multi", "/includeAll"]
                    .iter()
                    .any(|p| variable.pointer(p) == Some(&Value::Bool(true)));
                queries.push(Query {
                    place: format!("{uid}/variable {name}"),
                    dashboard: Some(uid.to_owned()),
                    format: "table".to_owned(),
                    sql: text(variable, "/query").to_owned(),
                    variable: Some((name.to_owned(), multi)),
                });
            }
        }
        for panel in items(dashboard, "/panels") {
            for target in items(panel, "/targets") {
                if target_uid(panel, target) == POSTGRES_UID {
                    queries.push(Query {
                        place: format!(
                            "{uid}/{}/{}",
                            text(panel, "/title"),
                            text(target, "/refId")
                        ),
                        dashboard: Some(uid.to_owned()),
                        format: text(target, "/format").to_owned(),
                        sql: text(target, "/rawSql").to_owned(),
                        variable: None,
                    });
                }
            }
        }
    }
    for (_, document) in &provisioning.alerting {
        for group in items(document, "/groups") {
            for rule in items(group, "/rules") {
                for data in items(rule, "/data") {
                    if text(data, "/datasourceUid") == POSTGRES_UID {
                        queries.push(Query {
                            place: format!("alert {}/{}", text(rule, "/uid"), text(data, "/refId")),
                            dashboard: None,
                            format: text(data, "/model/format").to_owned(),
                            sql: text(data, "/model/rawSql").to_owned(),
                            variable: None,
                        });
                    }
                }
            }
        }
    }
    queries
}

#[test]
fn every_postgres_query_has_its_expected_columns_listed() {
    let places: BTreeSet<String> = postgres_queries(&load())
        .into_iter()
        .map(|q| q.place)
        .collect();
    let listed: BTreeSet<String> = EXPECTED_COLUMNS
        .iter()
        .map(|(place, _)| (*place).to_owned())
        .collect();
    assert_eq!(
        places, listed,
        "EXPECTED_COLUMNS lists exactly the provisioned PostgreSQL queries"
    );
}

/// A query's result: column names and types, and rows as text (NULL as `None`).
struct Answer {
    columns: Vec<(String, Type)>,
    rows: Vec<Vec<Option<String>>>,
}

impl Answer {
    fn column(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|(column, _)| column == name)
            .unwrap_or_else(|| panic!("no column `{name}`"))
    }

    fn values(&self, name: &str) -> Vec<String> {
        let index = self.column(name);
        self.rows
            .iter()
            .map(|row| row[index].clone().unwrap_or_default())
            .collect()
    }
}

async fn run(client: &tokio_postgres::Client, place: &str, sql: &str) -> Answer {
    let statement = client
        .prepare(sql)
        .await
        .unwrap_or_else(|error| panic!("{place}: the expanded SQL is refused: {error}\n{sql}"));
    let columns = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.type_().clone()))
        .collect();
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|error| panic!("{place}: running the expanded SQL: {error}\n{sql}"));
    let rows = messages
        .iter()
        .filter_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    Answer { columns, rows }
}

fn is_number(kind: &Type) -> bool {
    [
        Type::FLOAT8,
        Type::FLOAT4,
        Type::NUMERIC,
        Type::INT8,
        Type::INT4,
        Type::INT2,
    ]
    .contains(kind)
}

fn is_time(kind: &Type) -> bool {
    *kind == Type::TIMESTAMPTZ || *kind == Type::TIMESTAMP || is_number(kind)
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since.as_millis()).expect("now fits in i64 ms")
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// A small garden, six hours of it, written through the store: bed-1 online and watered
/// (its valve ON for an hour now), the enclosure reporting a humidity of 150 %, the tank
/// silent for ten minutes at 12 % with its pump held OFF by an out-of-range level earlier, and
/// a lamp that reports without sensors and follows its schedule.
async fn seed(store: &dyn Store, now: i64) {
    let mut reports = Vec::new();
    let mut seq = 0u32;
    let mut next = || {
        seq += 1;
        seq
    };
    let mut at = now - 6 * HOUR;
    while at < now - MINUTE {
        let moisture = 37.5 + 12.5 * ((at / MINUTE) as f64 / 30.0).sin();
        reports.push(report(
            "bed-1",
            Some(1),
            next(),
            at,
            vec![reading("soil_moisture", at, moisture)],
        ));
        at += MINUTE;
    }
    reports.push(report(
        "bed-1",
        Some(1),
        next(),
        now - 2000,
        vec![reading("soil_moisture", now - 2000, 29.5)],
    ));
    let mut at = now - 6 * HOUR;
    while at < now - 10 * MINUTE {
        reports.push(report(
            "enclosure",
            Some(2),
            next(),
            at,
            vec![
                reading("temperature", at, 21.0),
                reading("humidity", at, 60.0),
            ],
        ));
        let level = 40.0 - 28.0 * (at - (now - 6 * HOUR)) as f64 / (6 * HOUR) as f64;
        reports.push(report(
            "tank",
            Some(3),
            next(),
            at,
            vec![reading("level", at, level)],
        ));
        reports.push(report("lamp", Some(4), next(), at, Vec::new()));
        at += 5 * MINUTE;
    }
    reports.push(report(
        "tank",
        Some(3),
        next(),
        now - 10 * MINUTE,
        vec![reading("level", now - 10 * MINUTE, 12.0)],
    ));
    reports.push(report(
        "enclosure",
        Some(2),
        next(),
        now - 3000,
        vec![
            reading("temperature", now - 3000, 21.5),
            reading("humidity", now - 3000, 150.0),
        ],
    ));
    reports.push(report("lamp", Some(4), next(), now - 4000, Vec::new()));

    let change = |ago: i64, node: &str, output: &str, power: bool, reason: &str| StateChange {
        at_ms: now - ago,
        node: node.to_owned(),
        output: output.to_owned(),
        power,
        reason: reason.to_owned(),
    };
    let state_changes = vec![
        change(7 * HOUR, "tank", "pump", true, "bed-1.valve is ON"),
        change(5 * HOUR, "tank", "pump", false, "level 150 outside 0..100"),
        change(5 * HOUR, "lamp", "light", true, "inside 07:00-20:00"),
        change(4 * HOUR, "lamp", "light", false, "outside 07:00-20:00"),
        change(3 * HOUR, "bed-1", "valve", true, "soil_moisture 28.1 < 30"),
        change(
            3 * HOUR - 10 * MINUTE,
            "bed-1",
            "valve",
            false,
            "soil_moisture 45.2 >= 45",
        ),
        change(HOUR, "bed-1", "valve", true, "soil_moisture 29.5 < 30"),
    ];
    let events = vec![
        Event {
            at_ms: now - 6 * HOUR + MINUTE,
            kind: "master_started".to_owned(),
            node: None,
            output: None,
            message: "master started, epoch 1".to_owned(),
        },
        Event {
            at_ms: now - 30 * MINUTE,
            kind: "override_set".to_owned(),
            node: Some("bed-1".to_owned()),
            output: Some("valve".to_owned()),
            message: "valve ON for 10m".to_owned(),
        },
    ];
    // Reports go in batches as the master's group commit would write them.
    for chunk in reports.chunks(200) {
        store
            .write(WriteBatch {
                reports: chunk.to_vec(),
                ..WriteBatch::default()
            })
            .await
            .expect("writing seeded reports");
    }
    store
        .write(WriteBatch {
            state_changes,
            events,
            ..WriteBatch::default()
        })
        .await
        .expect("writing seeded state changes and events");
}

/// Applies a threshold expression's evaluator (`gt`/`lt`/`eq` with one param) to `value`.
fn fires(evaluator: &Value, value: f64) -> bool {
    let param = evaluator
        .pointer("/params/0")
        .and_then(Value::as_f64)
        .expect("the evaluator has a number");
    match text(evaluator, "/type") {
        "gt" => value > param,
        "lt" => value < param,
        other => panic!("evaluator `{other}` is not applied by this test"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_variable_and_alert_query_runs_on_the_seeded_postgres_store() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = open_in(&schema).await;
    let now = now_ms();
    seed(&store, now).await;
    let client = admin_client().await;
    client
        .batch_execute(&format!("SET search_path TO {}", schema.name()))
        .await
        .expect("using the test schema");

    let provisioning = load();
    let expected: BTreeMap<&str, &[&str]> = EXPECTED_COLUMNS.iter().copied().collect();
    let range = TimeRange {
        from_ms: now - 6 * HOUR,
        to_ms: now,
        interval_ms: MINUTE,
    };
    let mut variables: BTreeMap<String, BTreeMap<String, VariableValue>> = BTreeMap::new();
    for (_, dashboard) in &provisioning.dashboards {
        let fixed = items(dashboard, "/templating/list")
            .iter()
            .filter(|v| matches!(text(v, "/type"), "textbox" | "custom"))
            .map(|v| {
                let value = text(v, "/current/value");
                (
                    text(v, "/name").to_owned(),
                    VariableValue::Single(value.to_owned()),
                )
            })
            .collect();
        variables.insert(text(dashboard, "/uid").to_owned(), fixed);
    }
    let mut answers = BTreeMap::new();
    for query in postgres_queries(&provisioning) {
        let place = query.place.as_str();
        let scope = query
            .dashboard
            .as_ref()
            .map(|uid| variables[uid].clone())
            .unwrap_or_default();
        let alert_range = TimeRange {
            from_ms: now - 15 * MINUTE,
            ..range
        };
        let this_range = if query.dashboard.is_some() {
            range
        } else {
            alert_range
        };
        let sql = expand(&query.sql, &scope, this_range)
            .unwrap_or_else(|error| panic!("{place}: {error}"));
        assert!(
            !sql.contains("$__") && !sql.contains("${"),
            "{place}: something was left unexpanded:\n{sql}"
        );
        let answer = run(&client, place, &sql).await;
        let names: Vec<&str> = answer.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names, expected[place],
            "{place}: the columns Grafana reads\n{sql}"
        );
        assert!(
            !answer.rows.is_empty(),
            "{place}: no rows on the seeded garden\n{sql}"
        );
        if query.format == "time_series" {
            let (_, time_type) = &answer.columns[0];
            assert!(
                is_time(time_type),
                "{place}: `time` is a time, not {time_type}"
            );
            for (name, kind) in &answer.columns[1..] {
                assert!(
                    name == "metric" || is_number(kind),
                    "{place}: value column `{name}` is {kind}, Grafana needs a number"
                );
            }
            let times: Vec<String> = answer.values("time");
            let mut sorted = times.clone();
            sorted.sort_by(|a, b| compare_times(a, b));
            assert_eq!(times, sorted, "{place}: a time series is sorted by time");
        }
        if let Some((name, multi)) = &query.variable {
            let values = answer.values(name);
            let value = if *multi {
                VariableValue::Multi(values)
            } else {
                let pick = values
                    .iter()
                    .find(|v| *v == "bed-1")
                    .unwrap_or_else(|| panic!("{place}: bed-1 is offered: {values:?}"));
                VariableValue::Single(pick.clone())
            };
            let dashboard = query.dashboard.clone().expect("a variable has a dashboard");
            variables
                .get_mut(&dashboard)
                .expect("the dashboard's variables")
                .insert(name.clone(), value);
        }
        answers.insert(query.place.clone(), answer);
    }

    check_panels_name_returned_columns(&provisioning, &answers);
    check_dashboard_contents(&answers, range);
    check_alerts_fire_for_the_seeded_trouble(&provisioning, &answers);
    drop(client);
    store.close().await.expect("closing");
}

/// Compares two time cells: numbers numerically, timestamps as text (same format and zone).
fn compare_times(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.total_cmp(&b),
        _ => a.cmp(b),
    }
}

/// The columns a panel's transformations (`partitionByValues`) and field overrides (`byName`)
/// name are columns its PostgreSQL queries return, so renaming a column cannot silently break a
/// state timeline or a table's colouring.
fn check_panels_name_returned_columns(
    provisioning: &Provisioning,
    answers: &BTreeMap<String, Answer>,
) {
    for (_, dashboard) in &provisioning.dashboards {
        let uid = text(dashboard, "/uid");
        for panel in items(dashboard, "/panels") {
            let title = text(panel, "/title");
            let returned: BTreeSet<&str> = items(panel, "/targets")
                .iter()
                .filter_map(|target| {
                    answers.get(&format!("{uid}/{title}/{}", text(target, "/refId")))
                })
                .flat_map(|answer| answer.columns.iter().map(|(name, _)| name.as_str()))
                .collect();
            if returned.is_empty() {
                continue;
            }
            let mut named: Vec<&str> = Vec::new();
            for transformation in items(panel, "/transformations") {
                named.extend(
                    items(transformation, "/options/fields")
                        .iter()
                        .filter_map(Value::as_str),
                );
            }
            for field_override in items(panel, "/fieldConfig/overrides") {
                if text(field_override, "/matcher/id") == "byName" {
                    named.push(text(field_override, "/matcher/options"));
                }
            }
            for name in named {
                assert!(
                    returned.contains(name),
                    "{uid}/{title}: names column `{name}`, its queries return {returned:?}"
                );
            }
        }
    }
}

fn check_dashboard_contents(answers: &BTreeMap<String, Answer>, range: TimeRange) {
    let nodes = &answers["plantkeeper-overview/Nodes/A"];
    let status: BTreeMap<String, String> = nodes
        .values("node")
        .into_iter()
        .zip(nodes.values("status"))
        .collect();
    let expected_status = BTreeMap::from(
        [
            ("bed-1", "online"),
            ("enclosure", "online"),
            ("lamp", "online"),
            ("tank", "stale"),
        ]
        .map(|(n, s)| (n.to_owned(), s.to_owned())),
    );
    assert_eq!(
        status, expected_status,
        "overview: each node online or stale"
    );

    let newest = &answers["plantkeeper-overview/Newest values/A"];
    let humidity = newest
        .rows
        .iter()
        .find(|row| row[0].as_deref() == Some("enclosure") && row[1].as_deref() == Some("humidity"))
        .expect("overview: the enclosure's humidity is listed");
    assert_eq!(
        humidity[2].as_deref(),
        Some("150"),
        "overview: the newest humidity"
    );

    let outputs = &answers["plantkeeper-overview/Outputs/A"];
    let first_pump = outputs
        .rows
        .iter()
        .find(|row| row[1].as_deref() == Some("tank.pump"))
        .expect("overview: the pump's spans");
    assert_eq!(
        first_pump[2].as_deref(),
        Some("ON: bed-1.valve is ON"),
        "overview: the pump's state when the range starts (switched ON before it) opens its row"
    );
    let valve_states: Vec<String> = outputs
        .rows
        .iter()
        .filter(|row| row[1].as_deref() == Some("bed-1.valve"))
        .map(|row| row[2].clone().unwrap_or_default())
        .collect();
    assert_eq!(
        valve_states,
        [
            "ON: soil_moisture 28.1 < 30",
            "OFF: soil_moisture 45.2 >= 45",
            "ON: soil_moisture 29.5 < 30"
        ],
        "overview: the valve's spans with their reasons"
    );

    let readings = &answers["plantkeeper-node/Readings of $node/A"];
    let metrics: BTreeSet<String> = readings.values("metric").into_iter().collect();
    assert_eq!(
        metrics,
        BTreeSet::from(["soil_moisture".to_owned()]),
        "node: only the selected node's sensors"
    );
    let buckets = readings.rows.len() as i64;
    let expected_buckets = (range.to_ms - range.from_ms) / range.interval_ms;
    assert!(
        (expected_buckets - 2..=expected_buckets + 1).contains(&buckets),
        "node: one averaged point per $__interval: {buckets} for {expected_buckets} minutes"
    );
    let thresholds = &answers["plantkeeper-node/Readings of $node/B"];
    assert_eq!(
        thresholds.rows.len(),
        2,
        "node: each threshold line spans the range with two points"
    );
    assert_eq!(
        (
            thresholds.values("low threshold"),
            thresholds.values("high threshold")
        ),
        (vec!["30".to_owned(); 2], vec!["45".to_owned(); 2]),
        "node: the threshold lines carry the variables' values"
    );
    let runs: f64 = answers["plantkeeper-node/Runs started per hour/A"]
        .values("runs")
        .iter()
        .map(|v| v.parse::<f64>().expect("a count"))
        .sum();
    assert_eq!(
        runs, 2.0,
        "node: bed-1's valve started two runs in the range"
    );
    let events = answers["plantkeeper-node/Events of $node/A"].values("kind");
    assert_eq!(
        events.iter().filter(|k| *k == "state_change").count(),
        3,
        "node: bed-1's three state changes are among its events: {events:?}"
    );
    assert!(
        events.contains(&"override_set".to_owned()),
        "node: bed-1's override"
    );
    let overview_events = answers["plantkeeper-overview/Events/A"].values("kind");
    assert_eq!(
        overview_events,
        ["override_set", "master_started"],
        "overview: the events of the range, newest first"
    );
}

fn check_alerts_fire_for_the_seeded_trouble(
    provisioning: &Provisioning,
    answers: &BTreeMap<String, Answer>,
) {
    for (path, document) in &provisioning.alerting {
        for group in items(document, "/groups") {
            for rule in items(group, "/rules") {
                let uid = text(rule, "/uid");
                let condition = text(rule, "/condition");
                let threshold = items(rule, "/data")
                    .iter()
                    .find(|d| text(d, "/refId") == condition)
                    .expect("the condition's expression");
                assert_eq!(
                    text(threshold, "/model/type"),
                    "threshold",
                    "{}: rule {uid}: this test applies threshold conditions",
                    path.display()
                );
                let input = text(threshold, "/model/expression");
                let evaluator = threshold
                    .pointer("/model/conditions/0/evaluator")
                    .expect("the threshold's evaluator");
                let answer = &answers[&format!("alert {uid}/{input}")];
                let numbers: Vec<usize> = (0..answer.columns.len())
                    .filter(|&i| is_number(&answer.columns[i].1))
                    .collect();
                assert_eq!(
                    numbers.len(),
                    1,
                    "rule {uid}: one number per row, the other columns are labels"
                );
                let value_column = numbers[0];
                for (i, (name, kind)) in answer.columns.iter().enumerate() {
                    assert!(
                        i == value_column || *kind == Type::TEXT,
                        "rule {uid}: label column `{name}` is text"
                    );
                }
                let firing: BTreeSet<String> = answer
                    .rows
                    .iter()
                    .filter(|row| {
                        let value: f64 = row[value_column]
                            .as_deref()
                            .and_then(|v| v.parse().ok())
                            .expect("a numeric cell");
                        fires(evaluator, value)
                    })
                    .map(|row| {
                        row.iter()
                            .enumerate()
                            .filter(|(i, _)| *i != value_column)
                            .map(|(_, cell)| cell.clone().unwrap_or_default())
                            .collect::<Vec<_>>()
                            .join("/")
                    })
                    .collect();
                let expected: BTreeSet<String> = EXPECTED_FIRING
                    .iter()
                    .find(|(rule, _)| *rule == uid)
                    .map(|(_, firing)| firing.iter().map(|s| (*s).to_owned()).collect())
                    .unwrap_or_default();
                assert_eq!(
                    firing, expected,
                    "rule {uid} fires for exactly the seeded trouble"
                );
            }
        }
    }
}
