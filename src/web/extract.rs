//! Request extractors whose rejections speak the API's error shape: JSON bodies (400 for
//! malformed JSON, 422 for wrong fields or types, 413 when too large, 415 for a wrong
//! content type) and raw bodies (for signature checks, here and in the adapters). JSON
//! bodies lose their NUL characters on the way in (see [`super::scrub`]).

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// `Json<T>` with API-shaped rejections.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let mut value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rej) => return Err(json_rejection(rej)),
        };
        super::scrub::strip_nul(&mut value);
        from_value(value).map(ApiJson)
    }
}

fn json_rejection(rej: JsonRejection) -> ApiError {
    let text = rej.body_text();
    match rej {
        JsonRejection::JsonDataError(_) => ApiError::unprocessable(text),
        JsonRejection::JsonSyntaxError(_) => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", text),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::BytesRejection(b) => bytes_rejection(b),
        _ => ApiError::bad_request(text),
    }
}

fn bytes_rejection(rej: BytesRejection) -> ApiError {
    if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
    } else {
        ApiError::bad_request(rej.body_text())
    }
}

/// The raw body (for signature checks), with API-shaped rejections.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(bytes_rejection)
    }
}

/// An optional JSON body: empty means `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// Parses JSON: 400 when it is not JSON, 422 when it is the wrong shape.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    super::scrub::strip_nul(&mut value);
    from_value(value)
}

/// A JSON document as `T`; 422 naming the field that does not fit.
fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            ApiError::unprocessable(format!("the body does not fit: {}", e.inner()))
        } else {
            ApiError::unprocessable(format!("the body does not fit: {path}: {}", e.inner()))
        }
    })
}
