//! Dashboard performance on SQLite (docs/BENCHMARKS.md): the overview's server time and page
//! weight with many nodes, and a 30-day chart from 10-second data.
//!
//! `cargo bench -p plantkeeper-master --bench dashboard -- [--nodes N] [--days D] [--chart-days C]`
//!
//! Data: every node has one sensor with `--days` days of 10-second readings; node `n0000`
//! has `--chart-days` (default 30) days. The baseline, measured in the same run, is
//! `GET /healthz` (one store write) so the ratios travel between machines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plantkeeper_control::load::load_settings;
use plantkeeper_master::Master;
use plantkeeper_master::app::serve;
use plantkeeper_master::auth::token_digest;
use plantkeeper_master::clock::{ManualClock, SharedClock};
use plantkeeper_master::dashboard::assets::assets_bytes;
use plantkeeper_master::dashboard::overview::overview_html;
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};
use plantkeeper_store::{NewReading, ReportRecord, Store, WriteBatch};

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef";
const INTERVAL_MS: i64 = 10_000;
const DAY_MS: i64 = 86_400_000;

struct Options {
    nodes: usize,
    days: i64,
    chart_days: i64,
}

fn options() -> Options {
    let mut options = Options {
        nodes: 200,
        days: 1,
        chart_days: 30,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse::<i64>().ok().filter(|value| *value > 0);
        match pair[0].as_str() {
            "--nodes" => options.nodes = value().map_or(options.nodes, |v| v as usize),
            "--days" => options.days = value().unwrap_or(options.days),
            "--chart-days" => options.chart_days = value().unwrap_or(options.chart_days),
            _ => {}
        }
    }
    options
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn settings_toml(nodes: usize) -> String {
    let mut toml = format!(
        "[master]\nlisten = \"127.0.0.1:0\"\ntimezone = \"UTC\"\nadmin_token_sha256 = \"{}\"\n",
        hex(&token_digest(ADMIN_TOKEN))
    );
    for index in 0..nodes {
        toml.push_str(&format!(
            "[nodes.n{index:04}]\ntoken = \"token-of-node-{index:04}-0123456789\"\nsensors.soil_moisture = {{ min = 0, max = 100, unit = \"%\" }}\n[nodes.n{index:04}.outputs.valve]\non_when = \"soil_moisture < 30\"\noff_when = \"soil_moisture >= 45\"\n"
        ));
    }
    toml
}

/// Fills the store: one report per node and day, each holding that day's readings.
async fn fill(store: &dyn Store, options: &Options, end_ms: i64) -> usize {
    let mut written = 0;
    for index in 0..options.nodes {
        let days = if index == 0 {
            options.chart_days
        } else {
            options.days
        };
        for day in 0..days {
            let day_end = end_ms - day * DAY_MS;
            let readings: Vec<NewReading> = (0..DAY_MS / INTERVAL_MS)
                .map(|step| {
                    let at_ms = day_end - step * INTERVAL_MS;
                    NewReading {
                        sensor: "soil_moisture".to_owned(),
                        at_ms,
                        value: 35.0 + 10.0 * ((at_ms / 60_000) as f64 / 240.0).sin(),
                    }
                })
                .collect();
            written += readings.len();
            store
                .write(WriteBatch {
                    reports: vec![ReportRecord {
                        node: format!("n{index:04}"),
                        boot: Some(1),
                        seq: day as u32 + 1,
                        received_at_ms: day_end,
                        readings,
                    }],
                    ..WriteBatch::default()
                })
                .await
                .expect("bench data stored");
        }
    }
    written
}

/// Median of `runs` timings of `work`.
async fn median<F, Fut>(runs: usize, mut work: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        work().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

async fn session_cookie(http: &reqwest::Client, base: &str) -> String {
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page");
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("pk_login="))
        .and_then(|value| value.split(';').next())
        .expect("login cookie")
        .to_owned();
    let page = login.text().await.expect("page");
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("csrf") + marker.len();
    let csrf = &page[start..start + 64];
    let answer = http
        .post(format!("{base}/login"))
        .header("cookie", format!("pk_login={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("secret={ADMIN_TOKEN}&csrf={csrf}"))
        .send()
        .await
        .expect("login");
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("pk_session="))
        .and_then(|value| value.split(';').next())
        .expect("session cookie")
        .to_owned()
}

#[tokio::main]
async fn main() {
    let options = options();
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = Arc::new(
        load_settings("bench.toml", &settings_toml(options.nodes)).expect("bench settings valid"),
    );
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("bench.db"), SqliteOptions::default())
            .await
            .expect("store"),
    );
    let end: jiff::Timestamp = "2026-06-30T12:00:00Z".parse().expect("time");
    let started = Instant::now();
    let rows = fill(store.as_ref(), &options, end.as_millisecond()).await;
    println!(
        "data: {} nodes, {} days each (n0000: {} days) of 10-second readings = {rows} rows, written in {:.1} s",
        options.nodes,
        options.days,
        options.chart_days,
        started.elapsed().as_secs_f64()
    );
    let clock = Arc::new(ManualClock::new(end));
    let shared: SharedClock = clock.clone();
    let master = Master::start(settings, store, shared)
        .await
        .expect("master");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(Arc::clone(&master), listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for index in 0..options.nodes {
        let answer = http
            .post(format!("{base}/api/v1/nodes/n{index:04}/report"))
            .bearer_auth(format!("token-of-node-{index:04}-0123456789"))
            .header("content-type", "application/json")
            .body(r#"{"seq": 1000, "readings": {"soil_moisture": 33.0}}"#)
            .send()
            .await
            .expect("report");
        assert_eq!(answer.status().as_u16(), 200);
    }
    let cookie = session_cookie(&http, &base).await;
    let get = |path: String| {
        let http = http.clone();
        let cookie = cookie.clone();
        let base = base.clone();
        async move {
            let answer = http
                .get(format!("{base}{path}"))
                .header("cookie", format!("pk_session={cookie}"))
                .send()
                .await
                .expect("get");
            assert_eq!(answer.status().as_u16(), 200, "{path}");
            answer.bytes().await.expect("body").len()
        }
    };

    let baseline = median(21, || async {
        get("/healthz".to_owned()).await;
    })
    .await;
    let cold = {
        let started = Instant::now();
        let html = overview_html(&master).await;
        assert!(html.contains("n0000"));
        started.elapsed()
    };
    let warm = median(21, || async {
        overview_html(&master).await;
    })
    .await;
    let overview_http = median(21, || async {
        get("/".to_owned()).await;
    })
    .await;
    let page_bytes = get("/".to_owned()).await;
    let chart_30d = median(11, || async {
        get("/nodes/n0000?range=30d".to_owned()).await;
    })
    .await;
    let chart_24h = median(11, || async {
        get("/nodes/n0000?range=24h".to_owned()).await;
    })
    .await;
    let weight = page_bytes + assets_bytes();

    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let ratio = |duration: Duration| duration.as_secs_f64() / baseline.as_secs_f64();
    println!("| measurement | median | × healthz |");
    println!("|---|---|---|");
    println!(
        "| GET /healthz (baseline, one store write) | {:.2} ms | 1.0 |",
        ms(baseline)
    );
    println!(
        "| overview server render, sparklines computed ({} sensors) | {:.2} ms | {:.1} |",
        options.nodes,
        ms(cold),
        ratio(cold)
    );
    println!(
        "| overview server render, sparklines cached | {:.2} ms | {:.1} |",
        ms(warm),
        ratio(warm)
    );
    println!(
        "| GET / (overview over HTTP) | {:.2} ms | {:.1} |",
        ms(overview_http),
        ratio(overview_http)
    );
    println!(
        "| GET /nodes/n0000?range=30d (chart, 3 h steps) | {:.2} ms | {:.1} |",
        ms(chart_30d),
        ratio(chart_30d)
    );
    println!(
        "| GET /nodes/n0000?range=24h (chart, 5 min steps) | {:.2} ms | {:.1} |",
        ms(chart_24h),
        ratio(chart_24h)
    );
    println!(
        "overview page weight: {page_bytes} B HTML + {} B assets = {:.1} KB (uncompressed)",
        assets_bytes(),
        weight as f64 / 1024.0
    );
    let _ = stop.send(());
    let _ = server.await;
}
