//! Files operators share in a thread (`docs/widget-api.md#files`). The widget platform
//! cannot read Slack's or Discord's files (they need the bot's token, or expire), so the
//! bridge serves each one itself at `GET /v1/files/{id}/{name}`, behind a link signed
//! with a key derived from the widget secret that stops working after a while. Which
//! files are taken at all (size, type) is a setting; a refused file is told in the
//! thread, never silently dropped.

use super::{Service, ServiceError};
use crate::engine::SharedFile;
use crate::store::conversations as convs;
use crate::store::files::{self, FileRow, NewFile};
use crate::store::now_ms;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sqlx::AnyConnection;
use std::time::Duration;

/// What files are sent, and how they are linked.
#[derive(Clone)]
pub struct FileRules {
    pub max_bytes: u64,
    /// MIME types, each exact (`application/pdf`) or a prefix ending in `*` (`image/*`).
    pub types: Vec<String>,
    pub link_ttl: Duration,
    /// The links' signing key; `None` when there is no widget platform to send files to.
    pub key: Option<Vec<u8>>,
    /// Where the bridge is reached from outside, without a trailing slash.
    pub base: String,
}

impl std::fmt::Debug for FileRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRules")
            .field("max_bytes", &self.max_bytes)
            .field("types", &self.types)
            .field("link_ttl", &self.link_ttl)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The link-signing key for a widget secret: its own key, so a link never reveals or
/// stands in for a widget signature.
pub fn link_key(widget_secret: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(widget_secret).expect("HMAC accepts any key length");
    mac.update(b"handoff-bridge file links v1");
    mac.finalize().into_bytes().to_vec()
}

/// Where the bridge serves files; a line's attachment that starts with it is one of them.
const FILES_PATH: &str = "/v1/files/";

/// The signature of a link to file `id` that works until `expires` (unix seconds).
pub fn link_signature(key: &[u8], id: &str, expires: i64) -> String {
    hex::encode(FileRules::mac(key, id, expires).finalize().into_bytes())
}

/// `bytes` for people: "812 KB", "12.3 MB".
fn human(bytes: u64) -> String {
    match bytes {
        b if b < 1024 * 1024 => format!("{} KB", b.div_ceil(1024)),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// Why a link does not open a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefused {
    /// No such file: 404.
    Unknown,
    /// Signed wrongly or not at all, or expired: 401, with the reason.
    Bad(&'static str),
    /// The reply it was shared with was deleted: 410.
    Gone,
}

impl FileRules {
    /// Rules that send no files (no widget platform to send them to).
    pub fn off() -> FileRules {
        FileRules {
            max_bytes: 0,
            types: Vec::new(),
            link_ttl: Duration::from_secs(3600),
            key: None,
            base: "http://localhost".into(),
        }
    }

    /// Whether this file may go to the visitor; if not, why, in words for the thread.
    pub fn check(&self, f: &SharedFile) -> Result<(), String> {
        if self.key.is_none() {
            return Err("files are sent only where a widget platform is connected".into());
        }
        let size = u64::try_from(f.size).unwrap_or(0);
        if size > self.max_bytes {
            return Err(format!(
                "it is {}, and files up to {} are sent",
                human(size),
                human(self.max_bytes)
            ));
        }
        // `text/plain; charset=utf-8` is `text/plain`.
        let mimetype = f
            .mimetype
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let allowed = self.types.iter().any(|t| match t.strip_suffix('*') {
            Some(prefix) => mimetype.starts_with(prefix),
            None => mimetype == *t,
        });
        if !allowed {
            return Err(format!("files of type `{}` are not sent", f.mimetype));
        }
        Ok(())
    }

    /// The unsigned address of a file, as its message keeps it: a path on the bridge,
    /// so links follow `HANDOFF_PUBLIC_URL` when it changes. The name in it is cut to 60
    /// characters (it is for people; the id finds the file).
    fn address(id: &str, name: &str) -> String {
        let name: String = name.chars().take(60).collect();
        let name: String = url::form_urlencoded::byte_serialize(name.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        format!("{FILES_PATH}{id}/{name}")
    }

    fn mac(key: &[u8], id: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The link to `url` with a signature that works until `link_ttl` from now, if it is
    /// the address of one of the bridge's files; anything else (a visitor's web address)
    /// as it is.
    pub fn signed(&self, url: &str) -> String {
        let (Some(key), Some(rest)) = (&self.key, url.strip_prefix(FILES_PATH)) else {
            return url.to_owned();
        };
        let id = rest.split('/').next().unwrap_or_default();
        let expires = now_ms() / 1000 + self.link_ttl.as_secs() as i64;
        format!(
            "{}{url}?expires={expires}&sig={}",
            self.base,
            link_signature(key, id, expires)
        )
    }

    /// Checks a link's signature and expiry.
    pub fn verify(&self, id: &str, expires: Option<i64>, sig: Option<&str>) -> Result<(), LinkRefused> {
        let Some(key) = &self.key else {
            return Err(LinkRefused::Unknown);
        };
        let (Some(expires), Some(sig)) = (expires, sig) else {
            return Err(LinkRefused::Bad("the link is not signed: it needs `expires` and `sig`"));
        };
        let sig = hex::decode(sig).map_err(|_| LinkRefused::Bad("the link's signature is not hex"))?;
        Self::mac(key, id, expires)
            .verify_slice(&sig)
            .map_err(|_| LinkRefused::Bad("the link's signature does not match"))?;
        if expires < now_ms() / 1000 {
            return Err(LinkRefused::Bad("the link has expired"));
        }
        Ok(())
    }
}

impl Service {
    /// What files are sent, and how they are linked.
    pub fn file_rules(&self) -> &FileRules {
        &self.inner.files
    }

    /// Attachment addresses as they are shown: the bridge's files signed.
    pub fn shown_attachments(&self, urls: &[String]) -> Vec<String> {
        urls.iter().map(|u| self.inner.files.signed(u)).collect()
    }

    /// A file a signed link names, once the link checks out.
    pub async fn file_for_link(
        &self,
        id: &str,
        expires: Option<i64>,
        sig: Option<&str>,
    ) -> Result<Result<FileRow, LinkRefused>, ServiceError> {
        if let Err(refused) = self.inner.files.verify(id, expires, sig) {
            return Ok(Err(refused));
        }
        let mut conn = self.store().read().await?;
        let Some(file) = files::get(&mut conn, id).await? else {
            return Ok(Err(LinkRefused::Unknown));
        };
        // Taken back from the visitor: its files go with it.
        if let Some(message) = file.message_id
            && convs::message(&mut conn, message)
                .await?
                .is_some_and(|m| m.deleted_at.is_some())
        {
            return Ok(Err(LinkRefused::Gone));
        }
        Ok(Ok(file))
    }

    /// The files shared with line `message`, as they were shared (a held reply's, to
    /// send them with it).
    pub(super) async fn files_of(
        &self,
        conn: &mut AnyConnection,
        message: i64,
    ) -> Result<Vec<SharedFile>, ServiceError> {
        let mut rows = files::of_message(conn, message).await?;
        // In the order the line lists them.
        let order: Vec<String> = convs::message(conn, message)
            .await?
            .map(|m| m.attachment_urls())
            .unwrap_or_default()
            .iter()
            .filter_map(|u| Some(u.strip_prefix(FILES_PATH)?.split('/').next()?.to_owned()))
            .collect();
        rows.sort_by_key(|f| order.iter().position(|id| *id == f.id));
        Ok(rows
            .into_iter()
            .map(|f| SharedFile {
                name: f.name,
                mimetype: f.mimetype,
                size: f.size,
                source: f.source,
            })
            .collect())
    }

    /// Stores the files shared with line `message` (written on `platform`) and makes
    /// their addresses the line's attachments. In the line's own transaction.
    pub(super) async fn attach_files(
        &self,
        conn: &mut AnyConnection,
        conversation: &str,
        message: i64,
        platform: &str,
        shared: &[SharedFile],
    ) -> Result<(), ServiceError> {
        if shared.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut addresses = Vec::new();
        for f in shared {
            let id = hex::encode(rand::random::<[u8; 16]>());
            files::insert(
                conn,
                &NewFile {
                    id: &id,
                    conversation,
                    message,
                    platform,
                    source: &f.source,
                    name: &f.name,
                    mimetype: &f.mimetype,
                    size: f.size,
                    now,
                },
            )
            .await?;
            addresses.push(FileRules::address(&id, &f.name));
        }
        convs::set_attachments(conn, message, &serde_json::json!(addresses).to_string()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> FileRules {
        FileRules {
            max_bytes: 1024 * 1024,
            types: vec!["image/*".into(), "application/pdf".into()],
            link_ttl: Duration::from_secs(60),
            key: Some(link_key(b"secret")),
            base: "https://bridge.example".into(),
        }
    }

    fn file(mimetype: &str, size: i64) -> SharedFile {
        SharedFile {
            name: "x".into(),
            mimetype: mimetype.into(),
            size,
            source: "F1".into(),
        }
    }

    #[test]
    fn size_and_type_limits_say_why() {
        let r = rules();
        assert!(r.check(&file("image/png", 10)).is_ok());
        assert!(r.check(&file("Application/PDF; charset=binary", 10)).is_ok());
        assert!(r.check(&file("application/pdf", 10)).is_ok());
        let why = r.check(&file("application/pdf", 3 * 1024 * 1024)).unwrap_err();
        assert_eq!(why, "it is 3.0 MB, and files up to 1.0 MB are sent");
        let why = r.check(&file("application/x-msdownload", 10)).unwrap_err();
        assert_eq!(why, "files of type `application/x-msdownload` are not sent");
    }

    #[test]
    fn links_work_signed_and_not_tampered_or_expired() {
        let r = rules();
        let url = r.signed(&FileRules::address("abc", "receipt 1.pdf"));
        assert!(
            url.starts_with("https://bridge.example/v1/files/abc/receipt%201.pdf?expires="),
            "{url}"
        );
        let q: std::collections::HashMap<String, String> =
            url::Url::parse(&url).unwrap().query_pairs().into_owned().collect();
        let expires: i64 = q["expires"].parse().unwrap();
        assert_eq!(r.verify("abc", Some(expires), Some(&q["sig"])), Ok(()));
        assert!(r.verify("abd", Some(expires), Some(&q["sig"])).is_err());
        assert!(r.verify("abc", Some(expires + 1), Some(&q["sig"])).is_err());
        assert!(r.verify("abc", None, None).is_err());
        // Signed for a time already past.
        let past = now_ms() / 1000 - 1;
        let sig = hex::encode(
            FileRules::mac(r.key.as_ref().unwrap(), "abc", past)
                .finalize()
                .into_bytes(),
        );
        assert_eq!(
            r.verify("abc", Some(past), Some(&sig)),
            Err(LinkRefused::Bad("the link has expired"))
        );
        // Others' addresses are left as they are.
        assert_eq!(r.signed("https://cdn.example/a.png"), "https://cdn.example/a.png");
    }
}
