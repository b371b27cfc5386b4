//! `plantkeeper bench` at a tiny size finishes and prints its whole table. Only the shape of the
//! output is checked, never a speed: performance is measured, not asserted.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
const BINARY: &str = env!("CARGO_BIN_EXE_plantkeeper");
/// Far above the run's ~3 s, so only a hang trips it.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// Runs `plantkeeper ARGS`, killing it past [`TIME_LIMIT`]; returns (success, stdout, stderr).
fn run_plantkeeper(args: &[&str]) -> (bool, String, String) {
    let mut child = Command::new(BINARY)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the plantkeeper binary starts");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("polling the child") {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`plantkeeper {}` ran over {TIME_LIMIT:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_reader.join().expect("reading stdout");
    let stderr = err_reader.join().expect("reading stderr");
    (status.success(), stdout, stderr)
}

/// The line starting with `prefix`, or a panic showing the whole output.
fn line_starting<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with `{prefix}` in:\n{output}"))
}

#[test]
fn tiny_bench_prints_every_phase_the_memory_and_a_passing_durability_check() {
    let (success, stdout, stderr) = run_plantkeeper(&[
        "bench",
        "--nodes",
        "5",
        "--duration",
        "1s",
        "--concurrency",
        "4",
    ]);
    assert!(
        success,
        "bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let command = line_starting(&stdout, "command:");
    assert!(
        command.ends_with("plantkeeper bench --nodes 5 --duration 1s --concurrency 4 --readings 4"),
        "the reproduce line spells out every option: {command}"
    );
    let header = line_starting(&stdout, "phase");
    for column in ["reports/s", "p50 ms", "p99 ms", "max ms", "errors"] {
        assert!(
            header.contains(column),
            "column `{column}` missing: {header}"
        );
    }
    for phase in ["A  ceiling", "A  master", "B  master"] {
        let row = line_starting(&stdout, phase);
        let numbers: Vec<&str> = row.split_whitespace().rev().take(5).collect();
        assert!(
            numbers.iter().all(|cell| cell.parse::<f64>().is_ok()),
            "row `{phase}` ends with five numbers: {row}"
        );
    }
    let ratio = line_starting(&stdout, "   ratio master / ceiling");
    assert!(
        ratio
            .split_whitespace()
            .last()
            .is_some_and(|cell| cell.parse::<f64>().is_ok_and(|ratio| ratio > 0.0)),
        "the ratio is a positive number: {ratio}"
    );
    let memory = line_starting(&stdout, "master memory in phase B:");
    assert!(
        memory.contains("VmRSS") && memory.contains("VmHWM") && memory.contains("MiB"),
        "memory line names VmRSS and VmHWM in MiB: {memory}"
    );
    let durability = line_starting(&stdout, "durability:");
    assert!(
        durability.ends_with(": OK"),
        "durability check passes: {durability}"
    );
    let acknowledged: u64 = durability
        .trim_start_matches("durability: ")
        .split_whitespace()
        .next()
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("durability line starts with a count: {durability}"));
    assert!(
        acknowledged > 0,
        "some reports were acknowledged: {durability}"
    );
}

#[test]
fn skip_ceiling_leaves_out_the_ceiling_row_and_the_ratio() {
    let (success, stdout, stderr) = run_plantkeeper(&[
        "bench",
        "--nodes",
        "3",
        "--duration",
        "1s",
        "--concurrency",
        "2",
        "--skip-ceiling",
    ]);
    assert!(
        success,
        "bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stdout.contains("A  ceiling") && !stdout.contains("ratio master / ceiling"),
        "no ceiling row nor ratio with --skip-ceiling:\n{stdout}"
    );
    line_starting(&stdout, "A  master");
    line_starting(&stdout, "B  master");
}

/// The PostgreSQL server of the tests (`PLANTKEEPER_TEST_POSTGRES_URL`, default the local one),
/// or `None` when it cannot be reached and skipping is allowed (see `require_service`).
fn test_postgres_url() -> Option<String> {
    let url = std::env::var("PLANTKEEPER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let reachable = (|| {
        let config: tokio_postgres::Config = url.parse().map_err(|error| format!("{error}"))?;
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => return Err("the URL names no TCP host".to_owned()),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let address = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .map_err(|error| error.to_string())?
            .next()
            .ok_or_else(|| format!("{host} resolves to no address"))?;
        std::net::TcpStream::connect_timeout(&address, Duration::from_secs(3))
            .map(drop)
            .map_err(|error| error.to_string())
    })();
    plantkeeper_store::testsuite::require_service("PostgreSQL", &url, reachable).then_some(url)
}

#[test]
fn tiny_postgres_bench_prints_the_copy_ceiling_the_ratio_and_a_passing_durability_check() {
    let Some(url) = test_postgres_url() else {
        return;
    };
    let (success, stdout, stderr) = run_plantkeeper(&[
        "bench",
        "--nodes",
        "3",
        "--duration",
        "1s",
        "--concurrency",
        "2",
        "--skip-ceiling",
        "--database",
        &url,
    ]);
    assert!(
        success,
        "bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for row in ["   COPY binary", "   master, phase A"] {
        let line = line_starting(&stdout, row);
        let numbers: Vec<f64> = line
            .split_whitespace()
            .rev()
            .take(2)
            .filter_map(|cell| cell.parse().ok())
            .collect();
        assert!(
            numbers.len() == 2 && numbers.iter().all(|number| *number > 0.0),
            "`{row}` ends with positive reports/s and rows/s: {line}"
        );
    }
    let ratio = line_starting(&stdout, "   ratio master / COPY");
    assert!(
        ratio
            .split_whitespace()
            .last()
            .is_some_and(|cell| cell.parse::<f64>().is_ok_and(|ratio| ratio > 0.0)),
        "the ratio is a positive number: {ratio}"
    );
    assert!(
        line_starting(&stdout, "durability:").ends_with(": OK"),
        "the readings counted in PostgreSQL match the acknowledged ones:\n{stdout}"
    );
    let schema = line_starting(&stdout, "PostgreSQL, schema ")
        .trim_start_matches("PostgreSQL, schema ")
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        schema.starts_with("pk_bench_"),
        "the run's schema: {stdout}"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let left: i64 = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connecting to look at the schemas");
        tokio::spawn(connection);
        client
            .query_one(
                "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
                &[&schema],
            )
            .await
            .expect("looking for the schema")
            .get(0)
    });
    assert_eq!(left, 0, "the run's schema {schema} is dropped at the end");
}
