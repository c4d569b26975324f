//! Files shared in a mirrored Slack thread (a `file_share` message): what they are, taken
//! from the event, and how the bridge reads one later to serve its link. The file's
//! address is asked of `files.info` at that moment (never taken from the event), and the
//! bot token goes only to Slack's own hosts: Slack answers a request without the token
//! with a sign-in page, which must never be served as the file.

use super::Slack;
use crate::engine::SharedFile;
use crate::platform::FileSource;
use crate::platform::downloads::Downloads;
use serde_json::Value;
use slack_morphism::prelude::*;
use std::time::Duration;

/// The files of a `file_share` event, as Slack describes them.
pub fn shared(files: &[Value]) -> Vec<SharedFile> {
    files
        .iter()
        .filter_map(|f| {
            let id = f["id"].as_str()?;
            Some(SharedFile {
                name: f["name"].as_str().or(f["title"].as_str()).unwrap_or(id).to_owned(),
                mimetype: f["mimetype"].as_str().unwrap_or("application/octet-stream").to_owned(),
                size: f["size"].as_i64().unwrap_or(0),
                source: id.to_owned(),
            })
        })
        .collect()
}

/// Reads shared files for the bridge's links.
pub struct SlackFiles {
    slack: Slack,
    downloads: Downloads,
}

impl SlackFiles {
    pub fn new(slack: Slack, api_url: &str, timeout: Duration) -> anyhow::Result<SlackFiles> {
        let downloads = Downloads::new("Slack", &["files.slack.com"], api_url, timeout)?;
        Ok(SlackFiles { slack, downloads })
    }
}

#[async_trait::async_trait]
impl FileSource for SlackFiles {
    async fn open(&self, source: &str) -> Result<reqwest::Response, String> {
        self.slack.pace("files.info", None).await;
        let (client, token) = self.slack.session();
        let info = client
            .open_session(&token)
            .files_info(&SlackApiFilesInfoRequest::new(SlackFileId(source.to_owned())))
            .await
            .map_err(|e| format!("files.info: {e}"))?;
        let url = info
            .file
            .url_private_download
            .or(info.file.url_private)
            .ok_or("Slack gives no download address for it")?;
        let res = self.downloads.get(url, Some(token.token_value.0.as_str())).await?;
        if res.status().is_redirection() {
            return Err("Slack sent a sign-in page instead (does the app have the `files:read` scope?)".into());
        }
        if !res.status().is_success() {
            return Err(format!("download answered {}", res.status()));
        }
        Ok(res)
    }
}
