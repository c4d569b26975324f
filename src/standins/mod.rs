//! Local stand-ins for the platforms the bridge talks to (SPEC §9) — used by tests, the
//! benchmark and the sandbox; never by the engine.

pub mod slack;
pub mod widget;

use std::sync::Mutex;
use tokio::sync::oneshot;

/// Stops a stand-in's server when fired or dropped (when the last clone of the stand-in
/// goes away).
pub(crate) struct ServerGuard(Mutex<Option<oneshot::Sender<()>>>);

impl ServerGuard {
    pub(crate) fn fire(&self) {
        if let Some(tx) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.fire();
    }
}

/// Serves `app` on `listener` in a background task until the returned guard fires.
pub(crate) fn serve(listener: tokio::net::TcpListener, app: axum::Router, name: &'static str) -> ServerGuard {
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
    ServerGuard(Mutex::new(Some(tx)))
}
