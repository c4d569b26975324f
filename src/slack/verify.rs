//! The signed-request extractor: every Slack request's `X-Slack-Signature` is checked
//! (v0 HMAC-SHA256 over `v0:timestamp:body`, timestamps over 5 minutes old refused)
//! before anything is parsed. Refusals are 401 and change nothing.

use super::Slack;
use crate::web::error::ApiError;
use crate::web::extract::RawBody;
use crate::web::scrub;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use secrecy::ExposeSecret;
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

/// A request body that Slack signed.
pub struct SignedBody(pub Bytes);

impl FromRequest<Slack> for SignedBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, slack: &Slack) -> Result<Self, ApiError> {
        let signature = header(&req, SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER);
        let timestamp = header(&req, SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP);
        let RawBody(body) = RawBody::from_request(req, slack).await?;
        check(
            slack.signing_secret().expose_secret(),
            signature.as_deref(),
            timestamp.as_deref(),
            &body,
        )?;
        Ok(SignedBody(body))
    }
}

/// Checks Slack's signature headers against a body: 401 when they are missing, stale or
/// wrong, 400 when the body is not UTF-8.
pub fn check(secret: &str, signature: Option<&str>, timestamp: Option<&str>, body: &[u8]) -> Result<(), ApiError> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(ApiError::unauthorized(
            "missing X-Slack-Signature or X-Slack-Request-Timestamp",
        ));
    };
    let body_text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let secret = SlackSigningSecret::new(secret.to_owned());
    SlackEventSignatureVerifier::new(&secret)
        .verify(signature, body_text, timestamp)
        .map_err(|e| ApiError::unauthorized(format!("Slack signature refused: {e}")))
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Decodes an `application/x-www-form-urlencoded` body.
pub fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (scrub::text(&k), scrub::text(&v)))
        .collect()
}
