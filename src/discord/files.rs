//! Files attached to a moderator's message in a mirrored thread: what they are, from
//! the gateway's message, and how the bridge reads one later to serve its link. Discord
//! keeps attachments on its CDN behind links of their own (signed, and expiring after a
//! day or so), which need no bot token: the bridge keeps the message and attachment ids
//! with the link, and when the link has expired, reads the message again for a fresh
//! one. Only Discord's hosts (and the configured API's) are fetched.

use crate::engine::SharedFile;
use crate::platform::FileSource;
use crate::platform::downloads::Downloads;
use serenity::all::Attachment;
use std::time::Duration;

/// The files of a message, as Discord describes them. Each one's `source` is
/// `{channel} {message} {attachment} {link}`.
pub fn shared(channel: u64, message: u64, attachments: &[Attachment]) -> Vec<SharedFile> {
    attachments
        .iter()
        .map(|a| SharedFile {
            name: a.filename.clone(),
            mimetype: a
                .content_type
                .as_deref()
                .and_then(|t| t.split(';').next())
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "application/octet-stream".into()),
            size: i64::from(a.size),
            source: format!("{channel} {message} {} {}", a.id, a.url),
        })
        .collect()
}

/// Discord's hosts for attachments.
const CDN_HOSTS: &[&str] = &["cdn.discordapp.com", "media.discordapp.net"];

/// Reads attachments for the bridge's links.
pub struct DiscordFiles {
    discord: super::Discord,
    downloads: Downloads,
}

impl DiscordFiles {
    pub fn new(discord: super::Discord, api_url: &str, timeout: Duration) -> anyhow::Result<DiscordFiles> {
        let downloads = Downloads::new("Discord", CDN_HOSTS, api_url, timeout)?;
        Ok(DiscordFiles { discord, downloads })
    }

    async fn fetch(&self, link: &str) -> Result<reqwest::Response, String> {
        let url = url::Url::parse(link).map_err(|e| format!("its address is not a URL: {e}"))?;
        let res = self.downloads.get(url, None).await?;
        match res.status() {
            s if s.is_success() => Ok(res),
            reqwest::StatusCode::NOT_FOUND => Err("Discord no longer has it".into()),
            s => Err(format!("download answered {s}")),
        }
    }

    /// A fresh link to an attachment, read from its message.
    async fn fresh_link(&self, channel: &str, message: &str, attachment: &str) -> Result<String, String> {
        let msg = self
            .discord
            .rest()
            .get(&format!("/channels/{channel}/messages/{message}"))
            .await
            .map_err(|e| match e.code() {
                Some(10008) => "its message was deleted".to_owned(),
                _ => format!("reading its message failed: {e}"),
            })?;
        msg["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["id"].as_str() == Some(attachment))
            .and_then(|a| a["url"].as_str().map(str::to_owned))
            .ok_or_else(|| "its message no longer has it".to_owned())
    }
}

#[async_trait::async_trait]
impl FileSource for DiscordFiles {
    async fn open(&self, source: &str) -> Result<reqwest::Response, String> {
        let mut parts = source.splitn(4, ' ');
        let (Some(channel), Some(message), Some(attachment), Some(link)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the bridge keeps no usable reference to it".into());
        };
        match self.fetch(link).await {
            Ok(res) => Ok(res),
            // Most likely the link expired: ask Discord for a fresh one.
            Err(first) => match self.fresh_link(channel, message, attachment).await {
                Ok(fresh) => self.fetch(&fresh).await,
                Err(why) => Err(format!("{first}: {why}")),
            },
        }
    }
}
