//! Fetching a shared file from its platform, for the bridge's file links: one HTTP client
//! without an overall timeout (a file streams at the pace of whoever downloads it) that
//! never follows a redirect (a credential must not follow it, and a platform's redirect is
//! a sign-in page, not the file), and that fetches only from the platform's own hosts or
//! the configured API's (a local stand-in serves files there too).

use std::time::Duration;

/// A platform's file host list and the client that fetches from it.
pub struct Downloads {
    http: reqwest::Client,
    /// Hosts files are fetched from, by name.
    hosts: &'static [&'static str],
    /// The configured API's `host:port`.
    api: Option<String>,
    /// The platform's name, for the errors.
    platform: &'static str,
}

fn host_port(u: &url::Url) -> Option<String> {
    Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?))
}

impl Downloads {
    pub fn new(
        platform: &'static str,
        hosts: &'static [&'static str],
        api_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Downloads> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .user_agent("handoff-bridge")
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let api = url::Url::parse(api_url).ok().as_ref().and_then(host_port);
        Ok(Downloads {
            http,
            hosts,
            api,
            platform,
        })
    }

    /// GETs `url` (with `bearer` as the token, if given) if it is on the platform; the
    /// answer whatever its status, for the platform to read.
    pub async fn get(&self, url: url::Url, bearer: Option<&str>) -> Result<reqwest::Response, String> {
        let on_platform = url.host_str().is_some_and(|h| self.hosts.contains(&h));
        if !on_platform && (host_port(&url).is_none() || host_port(&url) != self.api) {
            return Err(format!(
                "its address is not on {} ({})",
                self.platform,
                url.host_str().unwrap_or("no host")
            ));
        }
        let mut req = self.http.get(url);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        req.send()
            .await
            .map_err(|e| format!("download failed: {}", e.without_url()))
    }
}
