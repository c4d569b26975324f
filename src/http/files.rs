//! `GET /v1/files/{id}/{name}` (`docs/widget-api.md#files`): a file an operator shared,
//! for the widget platform and the visitor, who hold no Slack or Discord credentials.
//! The link's signature and expiry are the only key; the file is streamed from its
//! platform as it is read, never stored here, and cut off past the size limit. Anything
//! but an image is served as a download, so a shared page cannot run as the bridge's.

use super::AppState;
use crate::service::LinkRefused;
use crate::web::error::ApiError;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/files/{id}", get(serve_by_id))
        .route("/v1/files/{id}/{name}", get(serve))
}

/// The same file without its name in the path.
async fn serve_by_id(state: State<AppState>, Path(id): Path<String>, q: Query<Signed>) -> Result<Response, ApiError> {
    serve(state, Path((id, String::new())), q).await
}

#[derive(Debug, Deserialize)]
pub struct Signed {
    expires: Option<String>,
    sig: Option<String>,
}

/// Types a browser may show in place: pictures that cannot carry scripts.
const INLINE: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A file an operator shared, through the signed link the widget platform was given.
#[utoipa::path(
    get, path = "/v1/files/{id}/{name}", tag = "widget",
    params(
        ("id" = String, Path, description = "the file's id"),
        ("name" = String, Path, description = "its name (not checked; `/v1/files/{id}` serves it too)"),
        ("expires" = i64, Query, description = "unix seconds after which the link stops working"),
        ("sig" = String, Query, description = "the link's signature"),
    ),
    responses(
        (status = 200, description = "the file, streamed, with its type"),
        (status = 401, description = "unsigned, wrongly signed or expired"),
        (status = 404, description = "no such file"),
        (status = 410, description = "the reply it was shared with was deleted"),
        (status = 502, description = "its platform did not give it"),
    )
)]
pub async fn serve(
    state: State<AppState>,
    path: Path<(String, String)>,
    q: Query<Signed>,
) -> Result<Response, ApiError> {
    let res = open(state, path, q).await;
    let result = match &res {
        Ok(_) => "served",
        Err(e)
            if matches!(
                e.status,
                StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND | StatusCode::GONE
            ) =>
        {
            "refused"
        }
        Err(_) => "unavailable",
    };
    metrics::counter!("handoff_files_served_total", "result" => result).increment(1);
    res
}

async fn open(
    State(state): State<AppState>,
    Path((id, _name)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<Response, ApiError> {
    let expires = match q.expires.as_deref() {
        None => None,
        Some(e) => Some(
            e.parse::<i64>()
                .map_err(|_| ApiError::unauthorized("the link's `expires` is not a number"))?,
        ),
    };
    let file = match state
        .service
        .file_for_link(&id, expires, q.sig.as_deref())
        .await
        .map_err(ApiError::from)?
    {
        Ok(file) => file,
        Err(LinkRefused::Unknown) => return Err(ApiError::not_found(format!("no file `{id}`"))),
        Err(LinkRefused::Bad(why)) => return Err(ApiError::unauthorized(why)),
        Err(LinkRefused::Gone) => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "deleted",
                "the reply this file was shared with was deleted",
            ));
        }
    };
    let Some(source) = state.file_sources.get(file.platform.as_str()) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "platform_off",
            format!(
                "the file is on {}, which this bridge is not connected to now",
                file.platform
            ),
        ));
    };
    let upstream = source.open(&file.source).await.map_err(|why| {
        tracing::warn!(file = %file.id, platform = %file.platform, %why, "a shared file could not be fetched");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "file_unavailable",
            format!("{} did not give the file: {why}", file.platform),
        )
    })?;
    let limit = state.service.file_rules().max_bytes;
    let length = upstream.content_length().filter(|n| *n <= limit);
    let mut read = 0u64;
    let body = upstream.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        read += chunk.len() as u64;
        if read > limit {
            return Err(std::io::Error::other("the file is larger than the size limit"));
        }
        Ok(chunk)
    });
    let mimetype = file.mimetype.to_ascii_lowercase();
    let inline = INLINE.contains(&mimetype.as_str());
    let content_type = match inline || mimetype.contains('/') {
        true => mimetype.clone(),
        false => "application/octet-stream".into(),
    };
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        url::form_urlencoded::byte_serialize(file.name.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    );
    let mut res = Body::from_stream(body).into_response();
    let headers = res.headers_mut();
    let value =
        |v: &str| HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, value(&content_type));
    headers.insert(header::CONTENT_DISPOSITION, value(&disposition));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not kept: a deleted reply's file must stop being served at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(n) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(res)
}
