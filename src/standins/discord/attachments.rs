//! Files on users' messages in the Discord stand-in, and the CDN that serves them.
//!
//! A bot hears of a user's file as an attachment object on the message
//! (<https://discord.com/developers/docs/resources/message#attachment-object>) and fetches
//! its bytes from Discord's CDN, without the bot token, at a signed link that expires:
//! `https://cdn.discordapp.com/attachments/{channel_id}/{attachment_id}/{filename}?ex=…&is=…&hm=…&`,
//! where `ex` and `is` are the expiry and issue times (Unix seconds, in hex) and `hm` the
//! signature. Discord signs a fresh link whenever it renders the message, so a bot
//! holding an expired link gets a new one by reading the message again; a link whose
//! signature does not match, that expired, or whose message is gone answers 404 "This
//! content is no longer available.". The stand-in does the same on its own address
//! ([`DiscordStandIn::cdn_url`]), so the bridge's downloads are exercised as they run
//! against Discord: the files' bytes, their content type, and the failures. The CDN's
//! fetches are kept apart from the REST calls (they carry no token and are not the
//! API); faults queued for its route apply, random chaos does not.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::DiscordStandIn;
use super::state::{Fault, Msg, Shared, World};
use super::wire::{json_response, rate_limited};

/// The CDN's route, as faults name it.
pub(super) const CDN_ROUTE: &str = "GET /attachments/{channel_id}/{attachment_id}/{filename}";

/// What Discord's CDN answers, with a 404, for a link it will not serve.
const GONE: &str = "This content is no longer available.";

/// How long a link is good for unless set (about a day on Discord).
const LINK_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// A file on a message, as the stand-in keeps it.
#[derive(Debug, Clone)]
pub(super) struct Attachment {
    pub(super) id: u64,
    pub(super) filename: String,
    pub(super) content_type: String,
    pub(super) bytes: Bytes,
}

/// A file on a message, as [`DiscordStandIn::message`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordAttachment {
    pub id: u64,
    pub filename: String,
    pub content_type: String,
    /// In bytes.
    pub size: usize,
}

/// One request to the CDN, with what it answered.
#[derive(Debug, Clone)]
pub struct CdnRequest {
    /// The attachment the link names (0 if it names none).
    pub attachment_id: u64,
    /// The channel the link names (0 if it names none).
    pub channel_id: u64,
    pub filename: String,
    /// 200 when the bytes were served.
    pub status: u16,
    pub at: Instant,
}

/// The CDN's state: its signing key, how long its links last, where each file is, and
/// the requests it had.
pub(super) struct Cdn {
    key: [u8; 32],
    pub(super) link_lifetime: Duration,
    /// Attachment → the (channel, message) it is on.
    files: HashMap<u64, (u64, u64)>,
    pub(super) requests: Vec<CdnRequest>,
}

impl Cdn {
    pub(super) fn new() -> Cdn {
        Cdn {
            key: rand::random(),
            link_lifetime: LINK_LIFETIME,
            files: HashMap::new(),
            requests: Vec::new(),
        }
    }

    /// `hm`: the signature of a link's path and times.
    fn signature(&self, channel: u64, id: u64, filename: &str, ex: u64, is: u64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(format!("{channel}/{id}/{filename}?ex={ex:x}&is={is:x}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl World {
    /// Gives `msg` the files `(filename, content type, bytes)`, each with a fresh id.
    pub(super) fn attach(&mut self, msg: &mut Msg, files: &[(&str, &str, Vec<u8>)]) {
        for (filename, content_type, bytes) in files {
            let id = self.new_id();
            self.cdn.files.insert(id, (msg.channel_id, msg.id));
            msg.attachments.push(Attachment {
                id,
                filename: filename.to_string(),
                content_type: content_type.to_string(),
                bytes: Bytes::from(bytes.clone()),
            });
        }
    }

    /// Forgets the files of a deleted message: their links answer 404 from now on.
    pub(super) fn detach(&mut self, msg: &Msg) {
        for a in &msg.attachments {
            self.cdn.files.remove(&a.id);
        }
    }

    /// A message's `attachments`, with links signed now.
    pub(super) fn attachments_json(&self, msg: &Msg) -> Value {
        msg.attachments
            .iter()
            .map(|a| {
                let url = self.link(msg.channel_id, a);
                let mut v = json!({
                    "id": a.id.to_string(),
                    "filename": a.filename,
                    "size": a.bytes.len(),
                    "url": url,
                    "proxy_url": url,
                    "content_type": a.content_type,
                });
                if let Some((width, height)) = dimensions(&a.content_type, &a.bytes) {
                    v["width"] = json!(width);
                    v["height"] = json!(height);
                }
                v
            })
            .collect()
    }

    /// A signed link to a file, good for the CDN's link lifetime from now.
    fn link(&self, channel: u64, a: &Attachment) -> String {
        let is = unix_now();
        let ex = is + self.cdn.link_lifetime.as_secs();
        let hm = self.cdn.signature(channel, a.id, &a.filename, ex, is);
        let mut url = url::Url::parse(&self.base_url).expect("the stand-in's base URL parses");
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["attachments", &channel.to_string(), &a.id.to_string(), &a.filename]);
        }
        format!("{url}?ex={ex:x}&is={is:x}&hm={hm}&")
    }

    /// The file a link names, if the link is good: signed by the CDN, not expired, and
    /// its message still there.
    fn file(&self, channel: &str, id: &str, filename: &str, query: &HashMap<String, String>) -> Option<&Attachment> {
        let (channel, id) = (channel.parse::<u64>().ok()?, id.parse::<u64>().ok()?);
        let hex = |k: &str| u64::from_str_radix(query.get(k)?, 16).ok();
        let (ex, is) = (hex("ex")?, hex("is")?);
        let signed = self.cdn.signature(channel, id, filename, ex, is);
        if query.get("hm") != Some(&signed) || unix_now() >= ex {
            return None;
        }
        let (c, m) = self.cdn.files.get(&id)?;
        if *c != channel {
            return None;
        }
        self.messages
            .get(c)?
            .get(m)?
            .attachments
            .iter()
            .find(|a| a.id == id && a.filename == filename)
    }
}

/// `GET /attachments/{channel_id}/{attachment_id}/{filename}`: a file's bytes, with its
/// content type, to anyone holding a good link; after the fault queued for the route, if
/// any.
pub(super) async fn serve(
    State(shared): State<Arc<Shared>>,
    Path((channel, id, filename)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (fault, hang) = {
        let mut w = shared.lock();
        let fault = w.faults.get_mut(CDN_ROUTE).and_then(|q| q.pop_front());
        // The ticket is taken under the lock that popped the hang, as `clear_faults`
        // releases under it: no release falls between the two.
        let hang = matches!(fault, Some(Fault::Hang)).then(|| shared.hangs.ticket());
        (fault, hang)
    };
    if let Some(ticket) = hang {
        // Let go by `clear_faults` (or the stand-in stopping), it is cut off.
        ticket.wait().await;
    }
    if let Some(Fault::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let mut w = shared.lock();
    let (status, response) = match fault {
        Some(Fault::Hang) => {
            let body = json!({"message": "503: Service Unavailable", "code": 0});
            (503, json_response(503, &body, None))
        }
        Some(Fault::RateLimited(secs)) => (429, json_response(429, &rate_limited(secs), Some(secs))),
        Some(Fault::Status(s)) => {
            let body = json!({"message": format!("{s}: injected"), "code": 0});
            (s, json_response(s, &body, None))
        }
        Some(Fault::Refused(s, code)) => {
            let body = json!({"message": super::wire::error_message(code), "code": code});
            (s, json_response(s, &body, None))
        }
        Some(Fault::LoseResponse) => {
            // Serving changes nothing: a lost answer is a gateway timeout, no more.
            let body = json!({"message": "504: Gateway Timeout", "code": 0});
            (504, json_response(504, &body, None))
        }
        _ => match w.file(&channel, &id, &filename, &query) {
            Some(a) => {
                let headers = [(header::CONTENT_TYPE, a.content_type.clone())];
                (200, (headers, a.bytes.clone()).into_response())
            }
            None => (404, (StatusCode::NOT_FOUND, GONE).into_response()),
        },
    };
    w.cdn.requests.push(CdnRequest {
        attachment_id: id.parse().unwrap_or(0),
        channel_id: channel.parse().unwrap_or(0),
        filename,
        status,
        at: Instant::now(),
    });
    response
}

/// An image's width and height, read from its header (PNG and GIF; none for others).
fn dimensions(content_type: &str, bytes: &[u8]) -> Option<(u32, u32)> {
    if !content_type.starts_with("image/") {
        return None;
    }
    let be = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let le = |at: usize| Some(u32::from(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?)));
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16) == Some(b"IHDR") {
        return Some((be(16)?, be(20)?));
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some((le(6)?, le(8)?));
    }
    None
}

/// Now, in Unix seconds.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl DiscordStandIn {
    /// `http://127.0.0.1:PORT`: where attachment links point, as Discord's point to
    /// `https://cdn.discordapp.com` (`/attachments/{channel_id}/{attachment_id}/{filename}`).
    pub fn cdn_url(&self) -> String {
        self.base_url.clone()
    }

    /// How long attachment links signed from now on are good for (a day unless set;
    /// `Duration::ZERO`: expired as soon as given). Links are signed whenever a message
    /// is rendered: reading the message again gives a fresh one.
    pub fn set_attachment_link_lifetime(&self, lifetime: Duration) {
        self.shared.lock().cdn.link_lifetime = lifetime;
    }

    /// The attachments whose bytes the CDN served, in order (one entry per download).
    pub fn cdn_fetches(&self) -> Vec<u64> {
        let w = self.shared.lock();
        w.cdn
            .requests
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| r.attachment_id)
            .collect()
    }

    /// Every request to the CDN, served or not, in the order answered.
    pub fn cdn_requests(&self) -> Vec<CdnRequest> {
        self.shared.lock().cdn.requests.clone()
    }
}
