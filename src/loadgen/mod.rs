//! `handoff-bridge bench`: a load generator that measures the service as users meet it.
//! It starts the real application in-process on a fresh database (a temporary SQLite
//! file unless `--database-url` says otherwise), on threads of its own, pointed at the
//! Slack, Discord and widget platform stand-ins; then it drives it through its front
//! doors — signed widget handoffs, signed Slack clicks and thread messages — and waits
//! for what users would see: roots, DMs and updates on both platforms, replies at the
//! widget platform. Every result is printed beside the floor, measured in the same run
//! (see `floor`), and with the SQL statements each operation costs (see `measure`).
//! `BENCHMARKS.md` gives the commands and the figures.

mod drive;
mod floor;
mod measure;
mod memory;
mod routing;
mod scenarios;
mod world;

use measure::{Counted, Statements, ms, peak_rss_mib};
use scenarios::Measured;
use std::time::Duration;
pub use world::unpace;
use world::{Host, World};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Conversations per scenario (handoffs, Accept clicks, replies; the floor's posts).
    #[arg(long, default_value_t = 2000)]
    pub handoffs: usize,
    /// Requests in flight at once in the throughput scenarios.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Operators, linked on Slack and on Discord (the claim races need 100).
    #[arg(long, default_value_t = 100)]
    pub operators: usize,
    /// Handoffs a second in the fixed-rate latency scenario.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Accept clicks a second in the click scenario.
    #[arg(long, default_value_t = 500.0)]
    pub click_rate: f64,
    /// Conversations raced for, each by every operator at once.
    #[arg(long, default_value_t = 100)]
    pub races: usize,
    /// Operations of each kind counted statement by statement, one at a time.
    #[arg(long, default_value_t = 50)]
    pub count: usize,
    /// How long the idle window of the statement counts lasts (0: none).
    #[arg(long, default_value_t = 2)]
    pub idle_seconds: u64,
    /// Team sizes of the routing scenario, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1_000, 10_000])]
    pub team_sizes: Vec<usize>,
    /// Open conversations in each team's workspace in the routing scenario.
    #[arg(long, default_value_t = 100_000)]
    pub open: usize,
    /// Routing picks per mode and team size.
    #[arg(long, default_value_t = 2000)]
    pub picks: usize,
    /// Conversations stored in the database while the memory scenario measures the
    /// service in a process of its own (the database is topped up to this many).
    #[arg(long, default_value_t = 100_000)]
    pub stored: usize,
    /// Also list each operation's statements by their SQL.
    #[arg(long)]
    pub statements: bool,
    /// Which scenarios to run, comma-separated: floor, counts, handoffs, rate, accepts,
    /// replies, races, routing, memory (default: all of them).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Database to measure on (default: a temporary SQLite file). PostgreSQL: an empty
    /// database the bench may fill.
    #[arg(long)]
    pub database_url: Option<String>,
}

impl BenchArgs {
    fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let statements = Statements::install();
    let dir = std::env::temp_dir().join(format!("handoff-bench-{}", hex::encode(rand::random::<[u8; 6]>())));
    std::fs::create_dir_all(&dir)?;
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let result = bench(&args, &database_url, statements).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench(args: &BenchArgs, database_url: &str, statements: Option<&Statements>) -> anyhow::Result<()> {
    let world = World::start(database_url, args.operators, Host::InProcess).await?;
    println!(
        "handoff-bridge bench: database {}, {} operators on Slack and Discord, {} cores",
        crate::config::redact_url(database_url),
        world.operators.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!("CPU is the service's threads and the database server's processes, per operation.");
    let n = args.handoffs;
    let c = args.concurrency;
    let result = async {
        let mut floor: Option<Measured> = None;
        if args.runs("floor") {
            let runtime = world.runtime().expect("the service runs in this process");
            let f = scenarios::floor(&world, &runtime, n, c).await?;
            let s = f.run.measure(0);
            println!(
                "\nfloor      {n} × (HTTP POST + 8-insert transaction), {c} in flight: {:.0}/s  {}  CPU {:.3} ms",
                s.per_second(),
                s.latencies(),
                ms(f.cpu_per_op())
            );
            floor = Some(f);
        }
        let against = |m: &Measured| match &floor {
            Some(f) => format!(
                "  CPU {:.3} ms = {:.1}× floor, throughput {:.2}× floor",
                ms(m.cpu_per_op()),
                m.cpu_per_op().as_secs_f64() / f.cpu_per_op().as_secs_f64().max(1e-9),
                m.run.measure(0).per_second() / f.run.measure(0).per_second().max(1e-9)
            ),
            None => format!("  CPU {:.3} ms", ms(m.cpu_per_op())),
        };
        if args.runs("counts") {
            match statements {
                Some(statements) => print_counts(
                    &scenarios::counts(&world, statements, args.count, Duration::from_secs(args.idle_seconds)).await?,
                    args,
                ),
                None => println!("\n(statement counts need the bench to own the process's log subscriber)"),
            }
            world.forget();
        }
        if args.runs("handoffs") {
            let m = scenarios::handoffs(&world, n, c).await?;
            println!(
                "\nhandoffs   {n}, {c} in flight: {:.0}/s end to end (root on Slack and Discord, and the DM){}",
                n as f64 / m.run.elapsed.as_secs_f64(),
                against(&m)
            );
            print_handoff_latencies(&m);
            world.forget();
        }
        if args.runs("rate") {
            let m = scenarios::handoffs_at(&world, n, args.rate).await?;
            println!("\nhandoffs   {n} at {:.0}/s:{}", args.rate, against(&m));
            print_handoff_latencies(&m);
            world.forget();
        }
        let mut accepted = Vec::new();
        if args.runs("accepts") || args.runs("replies") {
            accepted = scenarios::unassigned(&world, 'a', n).await?;
            let m = scenarios::accepts(&world, &accepted, args.click_rate).await?;
            if args.runs("accepts") {
                println!(
                    "\naccepts    {n} at {:.0}/s, each its own conversation:{}",
                    args.click_rate,
                    against(&m)
                );
                println!("  Slack's 200     {}", m.run.measure(0).latencies());
                println!("  root updated    {}", m.run.measure(1).latencies());
            }
        }
        if args.runs("replies") {
            let m = scenarios::replies(&world, &accepted, c, 1).await?;
            println!(
                "\nreplies    {n}, {c} in flight: {:.0}/s relayed to the widget{}",
                n as f64 / m.run.elapsed.as_secs_f64(),
                against(&m)
            );
            println!("  Slack's 200     {}", m.run.measure(0).latencies());
            println!("  at the widget   {}", m.run.measure(1).latencies());
        }
        world.forget();
        if args.runs("races") {
            let roots = scenarios::unassigned(&world, 'x', args.races).await?;
            let r = scenarios::races(&world, &roots, 100).await?;
            let s = r.measured.run.measure(0);
            println!(
                "\nraces      {} conversations × {} clicks at once: {} with exactly one winner, {} claims recorded, \
                 {} losers told who has it (of {}), {} errors",
                r.conversations,
                r.clicks / r.conversations.max(1),
                r.one_winner,
                r.claims,
                r.told,
                r.clicks - r.conversations,
                r.errors
            );
            println!(
                "  Slack's 200     {}  CPU {:.3} ms a click",
                s.latencies(),
                ms(r.measured.cpu_per_op())
            );
            anyhow::ensure!(
                r.one_winner == r.conversations && r.claims == r.conversations as i64,
                "claim races: {} of {} conversations had exactly one winner",
                r.one_winner,
                r.conversations
            );
            anyhow::ensure!(
                r.told as usize == r.clicks - r.conversations && r.errors == 0,
                "claim races: {} losers of {} were told who has it, {} clicks failed",
                r.told,
                r.clicks - r.conversations,
                r.errors
            );
        }
        if args.runs("routing") {
            let picks = routing::picks(database_url, &args.team_sizes, args.open, args.picks).await?;
            routing::print(&picks, args.open);
        }
        anyhow::Ok(())
    }
    .await;
    println!(
        "\npeak RSS {:.1} MiB (the whole process: service, stand-ins and load generator)",
        peak_rss_mib()
    );
    let stopped = world.stop().await;
    result.and(stopped)?;
    if args.runs("memory") {
        memory::measure(database_url, args.operators, args.stored, n, c)
            .await?
            .print();
    }
    Ok(())
}

fn print_handoff_latencies(m: &Measured) {
    for (i, what) in ["answered", "Slack root", "Discord root", "Slack DM", "all posted"]
        .iter()
        .enumerate()
    {
        println!("  {what:<15} {}", m.run.measure(i).latencies());
    }
}

fn print_counts(c: &scenarios::Counts, args: &BenchArgs) {
    let k = c.k.max(1) as f64;
    println!(
        "\nstatements per operation ({} of each, one at a time; round trips add BEGIN and COMMIT):",
        c.k
    );
    let line = |what: &str, counted: &Counted, per: f64| {
        println!(
            "  {what:<34} {:>6.1} statements {:>5.1} transactions {:>6.1} round trips",
            counted.statements as f64 / per,
            counted.transactions as f64 / per,
            counted.round_trips() as f64 / per
        );
        if args.statements {
            for (sql, n) in counted.by_sql.iter().take(25) {
                println!("      {:>6.2}  {sql}", *n as f64 / per);
            }
        }
    };
    line("handoff: the request", &c.handoff_request, k);
    line("handoff: its deliveries", &c.handoff_deliveries, k);
    line(
        &format!("one delivery ({:.1} rows a handoff)", c.delivered_rows as f64 / k),
        &c.handoff_deliveries,
        c.delivered_rows.max(1) as f64,
    );
    line("Accept click, to the root updated", &c.accept, k);
    line("thread reply, to the widget", &c.reply, k);
    if !c.idle_for.is_zero() {
        println!(
            "  idle: {} statements, {} transactions in {:.0} s",
            c.idle.statements,
            c.idle.transactions,
            c.idle_for.as_secs_f64()
        );
        if args.statements {
            for (sql, n) in &c.idle.by_sql {
                println!("      {n:>6}  {sql}");
            }
        }
    }
}
