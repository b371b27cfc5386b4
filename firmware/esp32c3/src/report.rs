//! The report loop: sample the soil, report to the master, hand the answer to the node
//! logic, sleep until the next period. Every exchange is bounded by the HTTP timeout, which
//! the configuration keeps below any lease.

use embassy_net::Stack;
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_time::{Duration, Timer, with_timeout};
use esp_hal::analog::adc::AdcChannel;
use esp_hal::rng::Rng;
use log::{info, warn};
use plantkeeper_node_logic::node::{Failure, Outcome, Prepared};
use reqwless::client::HttpClient;
use reqwless::headers::ContentType;
use reqwless::request::{Method, RequestBuilder};
use static_cell::StaticCell;

use crate::soil::Soil;
use crate::{FirmwareNode, config, now_ms, safety};

/// Room for the report body: the readings plus as much backlog as fits.
const BODY_BYTES: usize = 16 * 1024;
/// Room for the answer's headers and body.
const ANSWER_BYTES: usize = 4 * 1024;
/// Slack on top of the period and HTTP timeout before the safety task deems the loop stuck.
const STUCK_SLACK_MS: u32 = 5_000;

type Client<'a> = HttpClient<'a, TcpClient<'static, 1, 1024, 1024>, DnsSocket<'static>>;

/// One POST of `body`; the status and answer body.
async fn exchange<'buf>(
    client: &mut Client<'_>,
    body: &[u8],
    answer: &'buf mut [u8],
) -> Result<(u16, &'buf [u8]), reqwless::Error> {
    let headers = [("Authorization", config::AUTHORIZATION)];
    let mut request = client
        .request(Method::POST, config::REPORT_URL)
        .await?
        .headers(&headers)
        .content_type(ContentType::ApplicationJson)
        .body(body);
    let response = request.send(answer).await?;
    let status = response.status.0;
    let body = response.body().read_to_end().await?;
    Ok((status, body))
}

/// Runs the report loop forever.
pub async fn run<P: AdcChannel>(
    node: &'static mut FirmwareNode,
    stack: Stack<'static>,
    mut soil: Soil<P>,
    rng: Rng,
) -> ! {
    static TCP: StaticCell<TcpClientState<1, 1024, 1024>> = StaticCell::new();
    static BODY: StaticCell<[u8; BODY_BYTES]> = StaticCell::new();
    static ANSWER: StaticCell<[u8; ANSWER_BYTES]> = StaticCell::new();
    let timeout = Duration::from_millis(u64::from(config::HTTP_TIMEOUT_MS));
    let mut tcp = TcpClient::new(stack, TCP.init(TcpClientState::new()));
    tcp.set_timeout(Some(timeout));
    let dns = DnsSocket::new(stack);
    let mut client = HttpClient::new(&tcp, &dns);
    let body = BODY.init([0; BODY_BYTES]);
    let answer = ANSWER.init([0; ANSWER_BYTES]);
    let mut was_down = false;

    loop {
        let started = now_ms();
        let every = node.report_every_ms();
        safety::promise(every + config::HTTP_TIMEOUT_MS + STUCK_SLACK_MS);

        let reading = soil.read().await;
        let now = now_ms();
        let prepared = node.prepare([reading], now, body);
        if let Ok(Prepared::Send { len, pending }) = prepared {
            let reply = if stack.is_config_up() {
                match with_timeout(timeout, exchange(&mut client, &body[..len], answer)).await {
                    Ok(Ok(reply)) => Some(reply),
                    Ok(Err(error)) => {
                        warn!("report {}: {error:?}", pending.seq);
                        None
                    }
                    Err(_) => {
                        warn!(
                            "report {}: no answer within {} ms",
                            pending.seq,
                            config::HTTP_TIMEOUT_MS
                        );
                        None
                    }
                }
            } else {
                None
            };
            let outcome = node.finish(pending, reply, now_ms(), rng.random());
            match outcome {
                Outcome::Delivered { backlog_sent } => {
                    if was_down || backlog_sent > 0 {
                        info!("master reachable; {backlog_sent} backlog entries delivered");
                    }
                    was_down = false;
                }
                Outcome::Failed { failure, wait_ms } => {
                    was_down = true;
                    warn!("report not delivered ({failure:?}); next try in {wait_ms} ms");
                }
            }
        } else if let Err(Failure::TooLarge) = prepared {
            warn!("report does not fit {BODY_BYTES} bytes");
        }

        let elapsed = now_ms().wrapping_sub(started);
        Timer::after(Duration::from_millis(u64::from(
            every.saturating_sub(elapsed),
        )))
        .await;
    }
}
