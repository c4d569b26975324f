//! Local stand-ins for the platforms the bridge talks to — used by tests, the benchmark
//! and the sandbox; never by the engine. One folder per platform: [`slack`] (Slack's Web
//! API, and a sender of Slack's signed requests) and [`widget`] (the chat widget
//! platform, and a sender of its signed events). What they share lives here: serving on
//! 127.0.0.1 until the last handle goes, and holding "hung" calls until they are let go.

pub mod chaos;
pub mod discord;
pub mod slack;
pub mod widget;

use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch};

/// Stops a stand-in's server when fired or dropped (when the last clone of the stand-in
/// goes away), letting its hung calls go first so that the server can finish.
pub(crate) struct ServerGuard {
    stop: Mutex<Option<oneshot::Sender<()>>>,
    hangs: Arc<Hangs>,
}

impl ServerGuard {
    pub(crate) fn fire(&self) {
        self.hangs.close();
        if let Some(tx) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.fire();
    }
}

/// Serves `app` on `listener` in a background task until the returned guard fires; the
/// guard then also releases the calls held in `hangs`.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    name: &'static str,
    hangs: Arc<Hangs>,
) -> ServerGuard {
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, stand_in = name, "stand-in stopped with an error");
        }
    });
    ServerGuard {
        stop: Mutex::new(Some(tx)),
        hangs,
    }
}

/// Calls held by an injected hang: each waits, unanswered and without holding any lock,
/// until the stand-in's faults are cleared ([`Hangs::release`]) or it stops
/// ([`Hangs::close`]).
pub(crate) struct Hangs(watch::Sender<HangState>);

#[derive(Debug, Clone, Copy, Default)]
struct HangState {
    /// How many times the held calls were let go.
    releases: u64,
    /// The stand-in stopped: nothing hangs any more.
    closed: bool,
}

/// One hung call's claim: it ends at the first release after it was taken.
pub(crate) struct HangTicket {
    releases: u64,
    rx: watch::Receiver<HangState>,
}

impl Hangs {
    pub(crate) fn new() -> Arc<Hangs> {
        Arc::new(Hangs(watch::channel(HangState::default()).0))
    }

    /// A claim for a call that starts hanging now. Take it under the same lock that pops
    /// the hang fault and that [`Self::release`] is called under, so that no release falls
    /// between the two.
    pub(crate) fn ticket(&self) -> HangTicket {
        let rx = self.0.subscribe();
        let releases = rx.borrow().releases;
        HangTicket { releases, rx }
    }

    /// Lets every call hanging now go.
    pub(crate) fn release(&self) {
        self.0.send_modify(|s| s.releases += 1);
    }

    /// Lets every call go, now and later.
    pub(crate) fn close(&self) {
        self.0.send_modify(|s| s.closed = true);
    }
}

impl HangTicket {
    /// Waits until the call is let go.
    pub(crate) async fn wait(mut self) {
        let releases = self.releases;
        // An error means the stand-in is gone altogether: nothing to wait for either.
        let _ = self.rx.wait_for(|s| s.closed || s.releases != releases).await;
    }
}
