//! The `handoff-bridge` command: `serve`, `migrate`, `check-config`.

use clap::{Parser, Subcommand};
use handoff_bridge::config::Settings;
use handoff_bridge::startup::{Application, shutdown_signal};
use handoff_bridge::store::Store;
use handoff_bridge::telemetry;
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "handoff-bridge",
    version,
    about = "Work website chat handoffs from Slack and Discord."
)]
struct Cli {
    /// TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "HANDOFF_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Check the configuration, naming every bad setting and its fix.
    CheckConfig,
    /// Measure handoffs/s and claim latency over HTTP against an in-process service.
    Bench(handoff_bridge::loadgen::BenchArgs),
    /// Try it: the service with Slack, Discord and a widget platform played in-process,
    /// and a page at http://127.0.0.1:8080/sandbox to click through a handoff.
    Sandbox(handoff_bridge::sandbox::SandboxArgs),
    /// The service with Slack's and Discord's pacing off, which `bench` starts in a
    /// process of its own against its stand-ins to measure the service's memory alone.
    /// Not for the real platforms: it would run into their rate limits.
    #[command(hide = true)]
    BenchService,
}

fn load(config: Option<&std::path::Path>) -> Result<Settings, ExitCode> {
    Settings::load(config).map_err(|problems| {
        // One line, naming the setting and the fix; check-config lists them all.
        eprintln!("handoff-bridge: bad configuration: {}", problems[0]);
        if problems.len() > 1 {
            eprintln!(
                "({} more; run `handoff-bridge check-config` to see them all)",
                problems.len() - 1
            );
        }
        ExitCode::from(2)
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => match Settings::load(cli.config.as_deref()) {
            Ok(s) => {
                println!("configuration OK: {}", s.summary());
                for w in s.warnings() {
                    println!("warning: {w}");
                }
                ExitCode::SUCCESS
            }
            Err(problems) => {
                for p in &problems {
                    println!("{p}");
                }
                println!("{} problem(s) found", problems.len());
                ExitCode::from(1)
            }
        },
        Command::Bench(args) => match handoff_bridge::loadgen::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("handoff-bridge bench: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Migrate => {
            let settings = match load(cli.config.as_deref()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            telemetry::init(settings.log_format);
            match Store::connect(settings.database_url.expose_secret()).await {
                Ok(_) => {
                    tracing::info!("migrations applied");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("handoff-bridge: cannot migrate the database: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Sandbox(args) => {
            telemetry::init(handoff_bridge::config::LogFormat::Pretty);
            let env = |k: &str| std::env::var(k).ok();
            let sandbox = match handoff_bridge::sandbox::Sandbox::start(cli.config.as_deref(), &env, &args).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("handoff-bridge sandbox: cannot start: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            println!("The sandbox is up: open {}", sandbox.page_url());
            println!("(Ctrl-C stops it; the conversations stay for the next start, `--reset` starts afresh.)");
            match sandbox.run_until_stopped(shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("handoff-bridge sandbox: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve => serve(cli.config.as_deref(), |_| {}).await,
        Command::BenchService => serve(cli.config.as_deref(), handoff_bridge::loadgen::unpace).await,
    }
}

/// Runs the service until Ctrl-C or SIGTERM, with `adjust` applied to its settings.
async fn serve(config: Option<&std::path::Path>, adjust: impl FnOnce(&mut Settings)) -> ExitCode {
    let mut settings = match load(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    adjust(&mut settings);
    telemetry::init(settings.log_format);
    let summary = settings.summary();
    for w in settings.warnings() {
        tracing::warn!("{w}");
    }
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("handoff-bridge: cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.local_addr(), "{summary}");
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("handoff-bridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}
