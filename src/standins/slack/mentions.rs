//! Who a Slack message notifies: the mentions Slack acts on in its `text` and in its
//! blocks' `mrkdwn` texts (`<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^ID>`,
//! `<@U…>`), and the `broadcast`, `usergroup` and `user` elements of rich text
//! (<https://api.slack.com/reference/surfaces/formatting#advanced>).
//!
//! A bridge that relays visitors' text must not let it ping a channel, and tests can
//! only see that if the stand-in works out the pings as Slack does. Escaped text
//! (`&lt;!channel&gt;`) and `plain_text` objects ping nobody.

use serde_json::Value;

/// The pings of a message: `"@channel"`, `"@here"`, `"@everyone"`, `"subteam:<id>"`,
/// `"user:<id>"`, each once, in the order they appear.
pub fn pings(text: &str, blocks: &Value) -> Vec<String> {
    let mut out = Vec::new();
    in_mrkdwn(text, &mut out);
    walk(blocks, &mut out);
    out
}

fn push(out: &mut Vec<String>, ping: String) {
    if !out.contains(&ping) {
        out.push(ping);
    }
}

/// The `<…>` controls of a mrkdwn text that notify someone.
fn in_mrkdwn(text: &str, out: &mut Vec<String>) {
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let control = &after[..end];
        let target = control.split('|').next().unwrap_or_default();
        match target {
            "!channel" => push(out, "@channel".into()),
            "!here" => push(out, "@here".into()),
            "!everyone" => push(out, "@everyone".into()),
            t if t.starts_with("!subteam^") => push(out, format!("subteam:{}", &t["!subteam^".len()..])),
            t if t.starts_with('@') && t.len() > 1 => push(out, format!("user:{}", &t[1..])),
            _ => {}
        }
        rest = &after[end + 1..];
    }
}

fn walk(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
        Value::Object(o) => {
            match o.get("type").and_then(Value::as_str) {
                Some("mrkdwn") => {
                    if let Some(t) = o.get("text").and_then(Value::as_str) {
                        in_mrkdwn(t, out);
                    }
                }
                Some("broadcast") => {
                    if let Some(range) = o.get("range").and_then(Value::as_str) {
                        push(out, format!("@{range}"));
                    }
                }
                Some("usergroup") => {
                    if let Some(id) = o.get("usergroup_id").and_then(Value::as_str) {
                        push(out, format!("subteam:{id}"));
                    }
                }
                Some("user") => {
                    if let Some(id) = o.get("user_id").and_then(Value::as_str) {
                        push(out, format!("user:{id}"));
                    }
                }
                _ => {}
            }
            o.values().for_each(|x| walk(x, out));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::pings;
    use serde_json::json;

    #[test]
    fn controls_in_mrkdwn_ping_and_escaped_or_plain_text_does_not() {
        let blocks = json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": "<!subteam^S1|@ops> and <@U2|bo>"}},
            {"type": "section", "text": {"type": "plain_text", "text": "<!everyone>"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "&lt;!channel&gt; <!here>"}]},
            {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
                {"type": "broadcast", "range": "channel"}, {"type": "user", "user_id": "U3"}]}]}
        ]);
        assert_eq!(
            pings("hi <!channel> <@U1> <https://x.example|link>", &blocks),
            ["@channel", "user:U1", "subteam:S1", "user:U2", "@here", "user:U3"]
        );
        assert!(pings("&lt;!channel&gt; @everyone <#C1>", &json!(null)).is_empty());
    }
}
