//! How the load generator paces its work: closed-loop (a fixed number in flight, each
//! next one starting when one ends: throughput) or open-loop (one started at each tick
//! of a fixed rate, whether or not the earlier ones have ended: latency at a load, with
//! each latency counted from when its request was due, so a stall is not hidden).

use super::measure::Summary;
use futures_util::stream::FuturesUnordered;
use futures_util::{StreamExt, TryStreamExt};
use std::future::Future;
use std::time::{Duration, Instant};

/// What one job measured: one latency per measure the scenario names.
pub type Latencies = Vec<Duration>;

/// The summaries of a run: one per measure, over every job.
pub struct Run {
    pub elapsed: Duration,
    pub measures: Vec<Summary>,
}

impl Run {
    fn of(results: Vec<Latencies>, elapsed: Duration) -> anyhow::Result<Run> {
        let mut per_measure: Vec<Vec<Duration>> = Vec::new();
        for r in results {
            for (i, d) in r.into_iter().enumerate() {
                if per_measure.len() <= i {
                    per_measure.resize_with(i + 1, Vec::new);
                }
                per_measure[i].push(d);
            }
        }
        Ok(Run {
            elapsed,
            measures: per_measure.into_iter().map(|s| Summary::of(s, elapsed)).collect(),
        })
    }

    pub fn measure(&self, i: usize) -> Summary {
        self.measures.get(i).cloned().unwrap_or_default()
    }
}

/// Runs `jobs` jobs with `concurrency` in flight; `job(i, started)` returns its latencies
/// (measured from `started`). The first job that fails ends the run.
pub async fn closed<F, Fut>(jobs: usize, concurrency: usize, job: F) -> anyhow::Result<Run>
where
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = anyhow::Result<Latencies>>,
{
    let started = Instant::now();
    let results: Vec<Latencies> = futures_util::stream::iter(0..jobs)
        .map(|i| job(i, Instant::now()))
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Run::of(results, started.elapsed())
}

/// Starts job `i` at `i / rate` seconds from now; `job(i, due)` measures from `due`.
/// The first job that fails ends the run.
pub async fn open<F, Fut>(jobs: usize, rate: f64, job: F) -> anyhow::Result<Run>
where
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = anyhow::Result<Latencies>>,
{
    let started = Instant::now();
    let every = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut running = FuturesUnordered::new();
    let mut results = Vec::with_capacity(jobs);
    for i in 0..jobs {
        let due = started + every * i as u32;
        // Collect what has ended while waiting for the next tick.
        loop {
            tokio::select! {
                biased;
                Some(r) = running.next(), if !running.is_empty() => results.push(r?),
                _ = tokio::time::sleep_until(due.into()) => break,
            }
        }
        running.push(job(i, due));
    }
    while let Some(r) = running.next().await {
        results.push(r?);
    }
    Run::of(results, started.elapsed())
}
