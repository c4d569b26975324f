//! `handoff-bridge bench`: a load generator that measures the service as users meet it —
//! over HTTP on loopback. It starts the real application in-process on a fresh database
//! (a temporary SQLite file unless `--database-url` says otherwise) with the widget
//! platform stand-in behind it, then sends signed handoffs and HTTP API claims at a
//! chosen concurrency and reports throughput and latency percentiles.

use crate::config::Settings;
use crate::standins::widget::{WidgetClient, WidgetPlatform};
use crate::startup::Application;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// How many conversations to hand off (and then claim).
    #[arg(long, default_value_t = 2000)]
    pub handoffs: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// How many operators share the claims.
    #[arg(long, default_value_t = 20)]
    pub operators: usize,
    /// Database to measure on (default: a temporary SQLite file).
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Latency percentiles of a set of samples.
struct Summary {
    count: usize,
    elapsed: Duration,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    max: Duration,
}

impl Summary {
    fn of(mut samples: Vec<Duration>, elapsed: Duration) -> Summary {
        samples.sort();
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Summary {
            count: samples.len(),
            elapsed,
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }

    fn line(&self, what: &str) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{what:<10} {:>6} in {:>6.2}s = {:>8.1}/s   latency p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
            self.count,
            self.elapsed.as_secs_f64(),
            self.count as f64 / self.elapsed.as_secs_f64().max(1e-9),
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Runs `jobs` with `concurrency` in flight, timing each; fails on the first non-2xx.
async fn timed<F, Fut>(jobs: usize, concurrency: usize, job: F) -> anyhow::Result<Summary>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let started = Instant::now();
    let samples: Vec<anyhow::Result<Duration>> = futures_util::stream::iter(0..jobs)
        .map(|i| {
            let fut = job(i);
            async move {
                let t = Instant::now();
                fut.await.map(|_| t.elapsed())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let elapsed = started.elapsed();
    let samples = samples.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Summary::of(samples, elapsed))
}

fn check(status: reqwest::StatusCode, body: &str, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(status.is_success(), "{what}: HTTP {status}: {body}");
    Ok(())
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let secret = "bench-widget-secret";
    let admin = "bench-admin-token-0123456789";
    let widget = WidgetPlatform::start(secret).await;
    let env: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", database_url.clone()),
        ("HANDOFF_LISTEN", "127.0.0.1:0".into()),
        ("HANDOFF_ADMIN_TOKEN", admin.into()),
        ("HANDOFF_WIDGET_SECRET", secret.into()),
        ("HANDOFF_WIDGET_API_URL", widget.url()),
    ]);
    let settings = Settings::load_with(None, &|k| env.get(k).cloned()).map_err(|p| anyhow::anyhow!("{}", p[0]))?;
    let app = Application::build(settings).await?;
    let base = format!("http://{}", app.local_addr());
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(stop.clone().cancelled_owned()));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let client = WidgetClient::new(&base, secret);
    let run_id = hex::encode(rand::random::<[u8; 4]>());
    println!(
        "handoff-bridge bench: {} handoffs, {} operators, concurrency {}, database {}",
        args.handoffs,
        args.operators,
        args.concurrency,
        crate::config::redact_url(&database_url)
    );

    let handoffs = timed(args.handoffs, args.concurrency, |i| {
        let client = &client;
        let run_id = &run_id;
        async move {
            let res = client
                .send(&WidgetClient::handoff_event(&format!("bench-{run_id}-{i}"), "bench"))
                .await;
            let status = res.status();
            check(status, &res.text().await.unwrap_or_default(), "handoff")
        }
    })
    .await?;
    println!("{}", handoffs.line("handoffs"));

    let mut tokens = Vec::new();
    for i in 0..args.operators.max(1) {
        let op: Value = http
            .post(format!("{base}/v1/operators"))
            .bearer_auth(admin)
            .json(&json!({"name": format!("bench-{run_id}-op{i}")}))
            .send()
            .await?
            .json()
            .await?;
        let id = op["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("operator not created: {op}"))?;
        let t: Value = http
            .post(format!("{base}/v1/operators/{id}/tokens"))
            .bearer_auth(admin)
            .send()
            .await?
            .json()
            .await?;
        tokens.push(t["token"].as_str().unwrap_or_default().to_owned());
    }
    let claims = timed(args.handoffs, args.concurrency, |i| {
        let (http, base, token, run_id) = (&http, &base, &tokens[i % tokens.len()], &run_id);
        async move {
            let res = http
                .post(format!("{base}/v1/conversations/bench-{run_id}-{i}/claim"))
                .bearer_auth(token)
                .send()
                .await?;
            let status = res.status();
            check(status, &res.text().await.unwrap_or_default(), "claim")
        }
    })
    .await?;
    println!("{}", claims.line("claims"));

    // Each handoff and each claim makes one call to the widget platform.
    let expected = args.handoffs * 2;
    let drain = Instant::now();
    widget
        .wait_for(Duration::from_secs(600), "the outbox to drain", |calls| {
            calls.len() >= expected
        })
        .await;
    println!(
        "outbox     {expected:>6} widget calls delivered; drained {:.2}s after the last claim",
        drain.elapsed().as_secs_f64()
    );

    stop.cancel();
    server.await??;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("handoff-bench-{}", hex::encode(rand::random::<[u8; 6]>())));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
