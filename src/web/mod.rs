//! HTTP pieces shared by every front door — the HTTP API and each chat platform
//! adapter's routes: the one JSON error shape and the body extractors whose rejections
//! speak it. It knows nothing of any handler's state.

pub mod error;
pub mod extract;
pub mod scrub;
