//! The Slack stand-in's files. A visitor-facing bridge has to carry what operators share
//! in Slack, and Slack's files are not plain links: their `url_private` /
//! `url_private_download` give the bytes only to a request with a token in
//! `Authorization: Bearer`. Without one (or with a wrong one), Slack answers a `302` to
//! the workspace's sign-in page, which answers `200` with HTML — so a client that forgets
//! the token, or drops it when following a redirect, ends up with a web page instead of the
//! file, and no error. The stand-in does the same:
//!
//! - [`SlackStandIn::add_file`] stores a file as if a user had uploaded it and returns its
//!   file object, shaped as Slack's (`F…` id, `url_private*` pointing at the stand-in's own
//!   `/files-pri/{TEAM}-{id}/[download/]{name}`);
//! - `files.info` describes a file (`file_not_found`, `file_deleted`);
//! - the `files-pri` routes serve the bytes, or redirect to `/signin`. Each request for
//!   the bytes is recorded as a call `"files.download"` (so the usual faults apply under
//!   that name) and as a [`SlackDownload`];
//! - a `file_share` message recorded in the world marks its files as shared in its channel
//!   (`channels` / `groups` / `ims`, `shares`), as `files.info` then shows.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::server::{run_raw_call, unanswered};
use super::state::{Msg, Shared, StoredFile, World, counter};
use super::wire::{Args, Reply, api_error, validation_error};
use super::{PERMALINK_BASE, SlackDownload, SlackStandIn};
use crate::signature::unix_now;

/// What stays as it is in a URL path segment (RFC 3986 unreserved characters).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A file name as a URL path segment.
fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

/// Slack's `filetype` and `pretty_type` for a file, from its mimetype, else its extension.
fn file_type(name: &str, mimetype: &str) -> (&'static str, &'static str) {
    const KNOWN: &[(&str, &str, &str)] = &[
        ("png", "image/png", "PNG"),
        ("jpg", "image/jpeg", "JPEG"),
        ("gif", "image/gif", "GIF"),
        ("webp", "image/webp", "WebP"),
        ("pdf", "application/pdf", "PDF"),
        ("text", "text/plain", "Plain Text"),
        ("csv", "text/csv", "CSV"),
        ("html", "text/html", "HTML"),
        ("json", "application/json", "JSON"),
        ("zip", "application/zip", "Zip"),
        ("mp4", "video/mp4", "MPEG 4 Video"),
        ("mp3", "audio/mpeg", "MP3"),
    ];
    let mime = mimetype
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let ext = match ext.as_str() {
        "jpeg" => "jpg".to_string(),
        "txt" => "text".to_string(),
        _ => ext,
    };
    KNOWN
        .iter()
        .find(|(_, m, _)| *m == mime)
        .or_else(|| KNOWN.iter().find(|(t, _, _)| *t == ext))
        .map_or(("binary", "Binary"), |(t, _, p)| (*t, *p))
}

/// A small HTML page, as Slack's web pages are.
fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en-US\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body>{body}</body></html>\n"
    );
    let mut r = (status, page).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// `Content-Disposition` for a file named `name`: an ASCII fallback and the UTF-8 name.
fn disposition(kind: &str, name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let value = format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        encode_segment(name)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

impl SlackStandIn {
    /// Stores a file as if `user` had uploaded it, and returns its file object as Slack
    /// shapes it (`id` `F0S…`, never repeated; `name`, `title`, `mimetype`, `filetype`,
    /// `pretty_type`, `size`, `user`, `created`, `mode: "hosted"`, `is_external: false`,
    /// `url_private`, `url_private_download`, `permalink`, …) — what
    /// [`super::SlackSender::file_share_message`] wants in `files`. The URLs point here:
    /// `{base_url}/files-pri/{TEAM}-{id}/{name}` and
    /// `{base_url}/files-pri/{TEAM}-{id}/download/{name}` (the name percent-encoded).
    pub fn add_file(&self, user: &str, name: &str, mimetype: &str, bytes: Vec<u8>) -> Value {
        let id = format!("F0S{:07}", counter());
        let (filetype, pretty_type) = file_type(name, mimetype);
        let now = unix_now();
        let team = SlackStandIn::TEAM;
        let segment = encode_segment(name);
        let private = format!("{}/files-pri/{team}-{id}", self.base_url);
        let file = json!({
            "id": id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": pretty_type,
            "user": user,
            "user_team": team,
            "editable": false,
            "size": bytes.len(),
            "mode": "hosted",
            "is_external": false,
            "external_type": "",
            "is_public": false,
            "public_url_shared": false,
            "display_as_bot": false,
            "username": "",
            "url_private": format!("{private}/{segment}"),
            "url_private_download": format!("{private}/download/{segment}"),
            "media_display_type": "unknown",
            "permalink": format!("{PERMALINK_BASE}/files/{user}/{id}/{segment}"),
            "permalink_public": format!("https://slack-files.com/{team}-{id}-{:010x}", rand::random::<u64>() >> 24),
            "comments_count": 0,
            "is_starred": false,
            "shares": {},
            "channels": [],
            "groups": [],
            "ims": [],
            "has_more_shares": false,
            "has_rich_preview": false,
            "file_access": "visible"
        });
        self.world().files.insert(
            id,
            StoredFile {
                json: file.clone(),
                bytes: Bytes::from(bytes),
                deleted: false,
            },
        );
        file
    }

    /// A file's object as `files.info` would answer it now (with its `shares`); `None`
    /// for an unknown or deleted file.
    pub fn file(&self, id: &str) -> Option<Value> {
        self.world()
            .files
            .get(id)
            .filter(|f| !f.deleted)
            .map(|f| f.json.clone())
    }

    /// Deletes a file, as its owner would: `files.info` then answers `file_deleted` and its
    /// URLs 404. `false` if there was no such file.
    pub fn delete_file(&self, id: &str) -> bool {
        match self.world().files.get_mut(id) {
            Some(f) => {
                f.deleted = true;
                true
            }
            None => false,
        }
    }

    /// Every request for a file's bytes, in order, faulted ones included (not taken by
    /// [`Self::take_calls`]; each is also a call `"files.download"`).
    pub fn downloads(&self) -> Vec<SlackDownload> {
        self.world().downloads.clone()
    }
}

impl World {
    /// `files.info`.
    pub(super) fn file_info(&mut self, a: &Args) -> Reply {
        let id = a
            .non_empty("file")
            .ok_or_else(|| validation_error("invalid_arguments", &["missing required field: file".to_string()]))?;
        let f = self.files.get(&id).ok_or_else(|| api_error("file_not_found"))?;
        if f.deleted {
            return Err(api_error("file_deleted"));
        }
        Ok(json!({"file": f.json, "comments": [], "response_metadata": {"next_cursor": ""}}))
    }

    /// Marks the files of a message posted in `channel` as shared there.
    pub(super) fn share_files(&mut self, channel: &str, msg: &Msg) {
        let channel_name = self.channels.get(channel).map(|c| c.name.clone()).unwrap_or_default();
        let (list, scope) = match channel.chars().next() {
            Some('D') => ("ims", "private"),
            Some('G') => ("groups", "private"),
            _ => ("channels", "public"),
        };
        for id in msg.files.iter().filter_map(|f| f["id"].as_str()) {
            let Some(f) = self.files.get_mut(id) else {
                continue;
            };
            let listed = &mut f.json[list];
            if !listed.as_array().is_some_and(|l| l.iter().any(|c| c == channel)) {
                match listed.as_array_mut() {
                    Some(l) => l.push(json!(channel)),
                    None => *listed = json!([channel]),
                }
            }
            let mut share = json!({
                "ts": msg.ts,
                "channel_name": channel_name,
                "team_id": SlackStandIn::TEAM,
                "share_user_id": msg.user,
                "source": "UNKNOWN"
            });
            if let Some(t) = &msg.thread_ts {
                share["thread_ts"] = json!(t);
            }
            let shares = &mut f.json["shares"][scope][channel];
            match shares.as_array_mut() {
                Some(s) => s.push(share),
                None => *shares = json!([share]),
            }
            if scope == "public" {
                f.json["is_public"] = json!(true);
            }
        }
    }

    /// What a request for a file's bytes gets: the status and JSON recorded, and the
    /// response. Without the bot token, Slack's redirect to the sign-in page; then 404 for
    /// a file it does not hold (or no longer), else the bytes.
    fn file_response(&self, id: &str, download: bool, token_ok: bool, path: &str) -> (u16, Value, Response) {
        if !token_ok {
            let location = format!("{}/signin?redir={}", self.base_url, encode_segment(path));
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return (302, json!({"location": location}), r);
        }
        let Some(f) = self.files.get(id).filter(|f| !f.deleted) else {
            let page = html(
                StatusCode::NOT_FOUND,
                "File not found | Slack",
                "<h1>This file was not found</h1>",
            );
            return (404, json!({"error": "file_not_found"}), page);
        };
        let mimetype = f.json["mimetype"].as_str().unwrap_or("application/octet-stream");
        let name = f.json["name"].as_str().unwrap_or_default();
        let mut r = (StatusCode::OK, f.bytes.clone()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(mimetype).unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(f.bytes.len()));
        h.insert(
            header::CONTENT_DISPOSITION,
            disposition(if download { "attachment" } else { "inline" }, name),
        );
        let recorded = json!({"content_type": mimetype, "size": f.bytes.len()});
        (200, recorded, r)
    }
}

/// `GET /files-pri/{TEAM}-{id}/{name}`: a file's `url_private`.
pub(super) async fn private_file(
    State(shared): State<Arc<Shared>>,
    Path((team_file, _name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve_file(&shared, &team_file, false, &uri, &headers).await
}

/// `GET /files-pri/{TEAM}-{id}/download/{name}`: a file's `url_private_download`.
pub(super) async fn private_download(
    State(shared): State<Arc<Shared>>,
    Path((team_file, _name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve_file(&shared, &team_file, true, &uri, &headers).await
}

/// `GET /signin`: where a file request without the token is sent — an HTML page.
pub(super) async fn sign_in() -> Response {
    html(
        StatusCode::OK,
        "Sign in | Slack",
        "<h1>Sign in to Stand-in Workspace</h1><form action=\"/signin\" method=\"post\">\
         <input type=\"email\" name=\"email\"><button type=\"submit\">Sign in</button></form>",
    )
}

/// One request for a file's bytes, recorded as the call `"files.download"` (the path's
/// file id, `download`) and as a [`SlackDownload`]. Only `Authorization: Bearer` carries
/// the token here, as on Slack's file servers.
async fn serve_file(shared: &Shared, team_file: &str, download: bool, uri: &Uri, headers: &HeaderMap) -> Response {
    let id = team_file
        .strip_prefix(SlackStandIn::TEAM)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or_default()
        .to_string();
    let token_ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == shared.token);
    let at = Instant::now();
    let call = unanswered("files.download", json!({"file": id, "download": download}), token_ok);
    let path = uri.path().to_string();
    let response = run_raw_call(shared, call, |w| w.file_response(&id, download, token_ok, &path)).await;
    shared.lock().downloads.push(SlackDownload {
        file: id,
        download,
        token_ok,
        status: response.status().as_u16(),
        at,
    });
    response
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use slack_morphism::errors::SlackClientError;
    use slack_morphism::prelude::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really an image";

    #[tokio::test]
    async fn files_info_describes_files_as_slack_does() {
        let slack = setup().await;
        let file = slack.add_file("U0ADA", "receipt #1.png", "image/png", PNG.to_vec());
        let id = file["id"].as_str().unwrap().to_string();
        assert!(id.starts_with('F'), "{id}");
        let other = slack.add_file("U0ADA", "notes.txt", "text/plain", b"hi".to_vec());
        assert_ne!(other["id"], file["id"]);
        assert_eq!(other["filetype"], "text");
        assert_eq!(file["filetype"], "png");
        assert_eq!(file["size"], PNG.len());
        assert_eq!(file["mode"], "hosted");
        assert_eq!(file["is_external"], false);
        let base = slack.base_url();
        let team = SlackStandIn::TEAM;
        assert_eq!(
            file["url_private"],
            format!("{base}/files-pri/{team}-{id}/receipt%20%231.png")
        );
        assert_eq!(
            file["url_private_download"],
            format!("{base}/files-pri/{team}-{id}/download/receipt%20%231.png")
        );

        // slack-morphism's own files.info (a GET) parses the answer.
        let token = SlackApiToken::new(TOKEN.into());
        let client = client_for(&slack);
        let session = client.open_session(&token);
        let info = session
            .files_info(&SlackApiFilesInfoRequest::new(SlackFileId(id.clone())))
            .await
            .expect("files.info");
        assert_eq!(info.file.id.0, id);
        assert_eq!(info.file.name.as_deref(), Some("receipt #1.png"));
        assert_eq!(info.file.mimetype.as_ref().map(|m| m.0.as_str()), Some("image/png"));
        assert_eq!(info.file.user.as_ref().map(|u| u.0.as_str()), Some("U0ADA"));
        assert_eq!(
            info.file.url_private_download.as_ref().map(|u| u.as_str()),
            file["url_private_download"].as_str()
        );
        let r = session
            .files_info(&SlackApiFilesInfoRequest::new(SlackFileId("F0NOPE".into())))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "file_not_found"));

        let r = call(&slack, "files.info", json!({})).await;
        assert_eq!(r["error"], "invalid_arguments", "{r}");
        assert_eq!(
            r["response_metadata"]["messages"][0],
            "[ERROR] missing required field: file"
        );
        let r = call(&slack, "files.info", json!({"file": id})).await;
        assert_eq!(r["ok"], true);
        assert_eq!(r["file"], file);
        assert_eq!(r["comments"], json!([]));
        let r = reqwest::Client::new()
            .get(format!("{}/files.info?file={id}", slack.api_url()))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(r["error"], "not_authed");

        // Shared in a thread: files.info shows where.
        let ev = slack.user_file_share(CH, "U0ADA", "here", "1700000000.000100", std::slice::from_ref(&file));
        let shared = slack.file(&id).unwrap();
        assert_eq!(shared["channels"], json!([CH]));
        assert_eq!(shared["is_public"], true);
        assert_eq!(shared["shares"]["public"][CH][0]["ts"], ev["ts"]);
        assert_eq!(shared["shares"]["public"][CH][0]["thread_ts"], "1700000000.000100");

        assert!(slack.delete_file(&id));
        assert!(!slack.delete_file("F0NOPE"));
        assert!(slack.file(&id).is_none());
        let r = call(&slack, "files.info", json!({"file": id})).await;
        assert_eq!(r["error"], "file_deleted");

        let calls = slack.take_calls();
        assert_eq!(methods(&calls), ["files.info"; 6]);
        assert_eq!(calls[0].args["file"], id.as_str(), "GET query parameters are recorded");
        slack.assert_all_seen();
    }

    #[tokio::test]
    async fn downloads_need_the_token_or_get_the_sign_in_page() {
        let slack = setup().await;
        let file = slack.add_file("U0ADA", "receipt #1.png", "image/png", PNG.to_vec());
        let id = file["id"].as_str().unwrap().to_string();
        let download = file["url_private_download"].as_str().unwrap();
        let private = file["url_private"].as_str().unwrap();
        let follows = reqwest::Client::new();
        let stays = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();

        // With the bot token: the bytes.
        for url in [download, private] {
            let r = follows.get(url).bearer_auth(TOKEN).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
            assert_eq!(r.headers()[header::CONTENT_LENGTH], PNG.len().to_string().as_str());
            assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
        }

        // Without it, or with another: a 302 to the sign-in page, which is HTML.
        let r = stays.get(download).send().await.unwrap();
        assert_eq!(r.status(), 302);
        let location = r.headers()[header::LOCATION].to_str().unwrap().to_string();
        assert!(
            location.starts_with(&format!("{}/signin?redir=", slack.base_url())),
            "{location}"
        );
        let r = follows.get(download).bearer_auth("xoxb-wrong").send().await.unwrap();
        assert_eq!(r.status(), 200, "a client that follows the redirect sees a success");
        assert!(
            r.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(r.text().await.unwrap().contains("Sign in"));

        // Unknown or deleted files: 404 (with the token).
        let unknown = format!(
            "{}/files-pri/{}-F0NOPE/download/x.png",
            slack.base_url(),
            SlackStandIn::TEAM
        );
        let r = follows.get(&unknown).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 404);

        // Faults by the name "files.download".
        slack.fail_next("files.download", 1, 503);
        slack.rate_limit_next("files.download", 1, 3);
        let r = follows.get(download).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 503);
        let r = follows.get(download).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
        slack.delete_file(&id);
        let r = follows.get(download).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 404);

        let downloads = slack.downloads();
        let seen: Vec<(&str, bool, bool, u16)> = downloads
            .iter()
            .map(|d| (d.file.as_str(), d.download, d.token_ok, d.status))
            .collect();
        let id = id.as_str();
        assert_eq!(
            seen,
            [
                (id, true, true, 200),
                (id, false, true, 200),
                (id, true, false, 302),
                (id, true, false, 302),
                ("F0NOPE", true, true, 404),
                (id, true, true, 503),
                (id, true, true, 429),
                (id, true, true, 404),
            ]
        );
        let calls = slack.take_calls();
        assert_eq!(methods(&calls), ["files.download"; 8]);
        assert_eq!(calls[0].args, json!({"file": id, "download": true}));
        assert_eq!(
            calls[0].response,
            json!({"content_type": "image/png", "size": PNG.len()})
        );
        assert_eq!(calls[2].response["location"], location);
        slack.assert_all_seen();
    }
}
