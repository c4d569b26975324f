//! How a message's attachments are shown in a thread, on every platform: each URL with a
//! name a person can read (the file's name from its path, else its host) and whether it
//! is an image to draw rather than a link. The URLs were checked when they came in
//! (web addresses only); here they are shown in the form that check allowed
//! ([`crate::service::attachment_url`]), which can never close a link and open a mention.

use percent_encoding::percent_decode_str;

/// The longest name shown for an attachment.
pub const MAX_NAME_CHARS: usize = 100;

/// File extensions drawn as images; anything else is a link.
const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "gif", "webp"];

/// One attachment as a thread shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The URL to link or draw, safe inside chat markup.
    pub url: String,
    /// The file's name (from the URL's last path segment), or the host if it has none.
    pub name: String,
    /// Drawn as an image.
    pub image: bool,
}

/// An attachment URL as a thread shows it; `None` for what is not a web address (never
/// stored, but a row written before the check is skipped rather than shown).
pub fn describe(url: &str) -> Option<Shown> {
    let shown = crate::service::attachment_url(url).ok()?;
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_owned();
    let segment = parsed
        .path_segments()
        .and_then(|mut s| s.rfind(|seg| !seg.is_empty()))
        .map(|seg| percent_decode_str(seg).decode_utf8_lossy().into_owned())
        .filter(|seg| !seg.trim().is_empty());
    let image = segment
        .as_deref()
        .and_then(|s| s.rsplit_once('.'))
        .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
    let name: String = segment.unwrap_or(host).chars().filter(|c| !c.is_control()).collect();
    let name = match name.chars().count() > MAX_NAME_CHARS {
        true => format!("{}…", name.chars().take(MAX_NAME_CHARS - 1).collect::<String>()),
        false => name,
    };
    Some(Shown {
        url: shown,
        name,
        image,
    })
}

/// Every attachment of a message that can be shown, in order.
pub fn describe_all(urls: &[String]) -> Vec<Shown> {
    urls.iter().filter_map(|u| describe(u)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_told_by_their_extension_and_named_by_their_file() {
        let a = describe("https://files.example.com/u/Receipt%20123.PNG?sig=1").unwrap();
        assert!(a.image);
        assert_eq!(a.name, "Receipt 123.PNG");
        let b = describe("https://files.example.com/receipt-123.pdf").unwrap();
        assert!(!b.image);
        assert_eq!(b.name, "receipt-123.pdf");
        let c = describe("https://files.example.com/").unwrap();
        assert_eq!(c.name, "files.example.com");
        assert!(!c.image);
        let d = describe("https://files.example.com/dir/").unwrap();
        assert_eq!(d.name, "dir");
    }

    #[test]
    fn markup_characters_cannot_leave_the_url() {
        let a = describe("https://x.example/a|<@U1>?q=<!channel>").unwrap();
        assert!(!a.url.contains(['|', '<', '>']), "{}", a.url);
        assert!(describe("javascript:alert(1)").is_none());
        assert!(describe("data:text/html,hi").is_none());
        assert!(describe("not a url").is_none());
    }

    #[test]
    fn long_names_are_cut() {
        let long = format!("https://x.example/{}.pdf", "a".repeat(300));
        let a = describe(&long).unwrap();
        assert_eq!(a.name.chars().count(), MAX_NAME_CHARS);
        assert!(a.name.ends_with('…'));
    }
}
