//! Builds the application from settings and runs it: binds the listener first (so tests
//! can ask for port 0 and read the port back), starts the outbox worker and the change
//! feed, serves until the stop signal, then finishes in-flight requests, ends event
//! streams and stops both.

use crate::config::Settings;
use crate::http::{self, AppState};
use crate::outbox::{Faults, Targets, WidgetTarget, Worker};
use crate::platform::Adapter;
use crate::service::{FileRules, Service, ServiceOptions, TARGET_WIDGET, WithReceipts, link_key};
use crate::store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    worker: Worker,
    service: Service,
    shutdown: CancellationToken,
    /// The adapters' long-running tasks (a gateway connection), started by `run`.
    background: Vec<crate::platform::Background>,
    /// The lock that keeps a second instance off a SQLite file, held until stopped.
    sqlite_lock: Option<std::fs::File>,
}

/// How long the supervisor waits before restarting an outbox worker that stopped
/// unexpectedly.
const WORKER_RESTART_DELAY: std::time::Duration = std::time::Duration::from_secs(2);

/// Latency buckets, in seconds: histograms rather than summaries, so that several
/// instances' figures add up in Prometheus.
const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Waits for people, in seconds: from a few seconds to a day.
const WAIT_BUCKETS: [f64; 12] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 86400.0,
];

/// The process-wide metrics recorder (installed once, shared by every application in
/// the process).
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            match PrometheusBuilder::new()
                .set_buckets(&LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full("handoff_time_to_accept_seconds".into()),
                        &WAIT_BUCKETS,
                    )
                })
                .and_then(|b| b.install_recorder())
            {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// What operators' files may be sent, and how they are linked: from the bridge's public
/// URL (else the address it listens on), signed with a key of the widget secret's.
fn file_rules(settings: &Settings, bound: SocketAddr) -> FileRules {
    let base = settings.public_url.clone().unwrap_or_else(|| format!("http://{bound}"));
    FileRules {
        max_bytes: settings.files.max_bytes,
        types: settings.files.types.clone(),
        link_ttl: settings.files.link_ttl,
        key: settings
            .widget
            .as_ref()
            .map(|w| link_key(w.secret.expose_secret().as_bytes())),
        base,
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let sqlite_lock = Store::lock_sqlite_file(settings.database_url.expose_secret())?;
        let store = Store::connect(settings.database_url.expose_secret()).await?;
        let wake = Arc::new(Notify::new());
        let widget_target = match &settings.widget {
            Some(w) => match &w.api_url {
                Some(url) => Some(WidgetTarget::new(
                    url,
                    w.secret.clone(),
                    settings.outbox.request_timeout,
                )?),
                None => None,
            },
            None => None,
        };
        let adapters = adapters(&settings);
        let listener = TcpListener::bind(settings.listen).await?;
        let files = file_rules(&settings, listener.local_addr()?);
        let service = Service::new(
            store.clone(),
            ServiceOptions {
                policy: settings.policy.clone(),
                admin_token: settings.admin_token.clone(),
                widget: widget_target.is_some(),
                mirrors: adapters.iter().map(|a| a.mirror()).collect(),
                files,
            },
            wake.clone(),
        );
        service.apply_seed(&settings.seed).await?;
        let mut targets = Targets::default();
        if let Some(w) = widget_target {
            targets.insert(TARGET_WIDGET, Arc::new(WithReceipts::new(w, &service)));
        }
        let mut platform_routes = Vec::new();
        let mut file_sources = std::collections::HashMap::new();
        let mut background = Vec::new();
        for adapter in adapters {
            let name = adapter.name();
            let started = adapter.start(&service)?;
            platform_routes.push(started.routes);
            background.extend(started.background);
            if let Some(files) = started.files {
                file_sources.insert(name, files);
            }
            for (target, deliverer) in started.targets {
                targets.insert(target, deliverer);
            }
            tracing::info!(platform = name, "platform adapter started");
        }
        let outbox_targets = targets.names();
        let worker = Worker::new(store.clone(), wake, settings.outbox.clone(), targets);
        let shutdown = CancellationToken::new();
        let state = AppState {
            service: service.clone(),
            widget_secret: settings.widget.as_ref().map(|w| Arc::new(w.secret.clone())),
            metrics: metrics_handle(),
            shutdown: shutdown.clone(),
            api_enabled: settings.admin_token.is_some(),
            outbox: worker.health(),
            streams: Arc::new(tokio::sync::Semaphore::new(settings.max_streams)),
            metrics_token: settings.metrics_token.clone().map(Arc::new),
            outbox_targets,
            platforms: Arc::from(PLATFORMS),
            file_sources: Arc::new(file_sources),
        };
        let router = http::router(state, platform_routes, settings.max_body_bytes);
        Ok(Application {
            listener,
            router,
            worker,
            service,
            shutdown,
            background,
            sqlite_lock,
        })
    }

    /// Serves `routes` beside the service's own (the sandbox's page and its controls).
    pub fn with_routes(mut self, routes: axum::Router) -> Application {
        self.router = self.router.merge(routes);
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Faults to inject into the outbox worker (for reliability tests).
    pub fn outbox_faults(&self) -> Arc<Faults> {
        self.worker.faults()
    }

    /// Serves until `stop` completes, then shuts down gracefully.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Application {
            listener,
            router,
            worker,
            service,
            shutdown,
            background,
            sqlite_lock,
        } = self;
        let tasks: Vec<_> = background
            .into_iter()
            .map(|task| tokio::spawn(task(shutdown.clone())))
            .collect();
        let worker = tokio::spawn(worker.run_supervised(shutdown.clone(), WORKER_RESTART_DELAY));
        let feed = tokio::spawn(service.clone().run_feed(shutdown.clone()));
        let timers = tokio::spawn(service.clone().run_timers(shutdown.clone()));
        let signal = shutdown.clone();
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            stop.await;
            tracing::info!("shutting down: finishing in-flight requests");
            signal.cancel();
        });
        let result = serve.await;
        shutdown.cancel();
        if let Err(e) = worker.await {
            tracing::warn!(error = %e, "outbox worker ended abnormally");
        }
        let _ = feed.await;
        let _ = timers.await;
        for task in tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "a platform task ended abnormally");
            }
        }
        service.close().await;
        drop(sqlite_lock);
        tracing::info!("stopped");
        result.map_err(Into::into)
    }
}

/// The registry of chat platform adapters: the ones the settings switch on.
/// Every platform this build has an adapter for, by the name it keys its accounts and
/// channels with, whether it is configured or not.
pub const PLATFORMS: [&str; 2] = [crate::slack::PLATFORM, crate::discord::PLATFORM];

pub fn adapters(settings: &Settings) -> Vec<Box<dyn Adapter>> {
    let mut adapters: Vec<Box<dyn Adapter>> = Vec::new();
    if let Some(slack) = &settings.slack {
        adapters.push(Box::new(crate::slack::SlackAdapter::new(slack.clone())));
    }
    if let Some(discord) = &settings.discord {
        adapters.push(Box::new(crate::discord::DiscordAdapter::new(discord.clone())));
    }
    adapters
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
