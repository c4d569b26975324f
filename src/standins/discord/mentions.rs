//! Who a message notifies: the mentions in its content (`<@id>`, `<@!id>`, `<@&id>`,
//! `@everyone`, `@here`) as filtered by its `allowed_mentions`
//! (<https://discord.com/developers/docs/resources/message#allowed-mentions-object>).
//!
//! A bridge that relays visitors' text must not let it ping a whole server, and tests
//! can only see that if the stand-in works out the pings as Discord does: without
//! `allowed_mentions` everything in the content pings and a reply pings the author
//! replied to; with it, only the kinds in `parse` and the ids listed in `users` and
//! `roles` do — and only if the content mentions them — and a reply pings its author
//! only with `replied_user: true`.

use serde_json::Value;

use super::wire::FormErrors;

/// One mention found in content.
#[derive(Debug, PartialEq, Eq)]
enum Mention {
    User(u64),
    Role(u64),
    Everyone,
    Here,
}

/// The pings of a message: `"@everyone"`, `"@here"`, `"user:<id>"`, `"role:<id>"`, in
/// the order the content names them, the replied-to author last.
pub(super) fn pings(content: &str, allowed: &Value, replied_author: Option<u64>) -> Vec<String> {
    let parses = |kind: &str| {
        allowed.is_null()
            || allowed["parse"]
                .as_array()
                .is_some_and(|p| p.iter().any(|k| k.as_str() == Some(kind)))
    };
    let listed = |key: &str, id: u64| {
        allowed[key]
            .as_array()
            .is_some_and(|l| l.iter().any(|v| super::state::snowflake(v) == Some(id)))
    };
    let mut out: Vec<String> = Vec::new();
    for m in mentions(content) {
        let ping = match m {
            Mention::User(id) if parses("users") || listed("users", id) => format!("user:{id}"),
            Mention::Role(id) if parses("roles") || listed("roles", id) => format!("role:{id}"),
            Mention::Everyone if parses("everyone") => "@everyone".to_string(),
            Mention::Here if parses("everyone") => "@here".to_string(),
            _ => continue,
        };
        if !out.contains(&ping) {
            out.push(ping);
        }
    }
    let replied_ping = allowed.is_null() || allowed["replied_user"].as_bool() == Some(true);
    if let Some(author) = replied_author.filter(|_| replied_ping) {
        let ping = format!("user:{author}");
        if !out.contains(&ping) {
            out.push(ping);
        }
    }
    out
}

/// Discord's checks of `allowed_mentions`: `parse` of known kinds, and a kind either
/// parsed or listed, not both.
pub(super) fn check_allowed_mentions(allowed: &Value, errors: &mut FormErrors) {
    if allowed.is_null() {
        return;
    }
    let parse: Vec<&str> = allowed["parse"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (i, kind) in parse.iter().enumerate() {
        if !matches!(*kind, "users" | "roles" | "everyone") {
            errors.add(
                &["allowed_mentions", "parse", &i.to_string()],
                "BASE_TYPE_CHOICES",
                "Value must be one of {'users', 'roles', 'everyone'}.".into(),
            );
        }
    }
    for (kind, key) in [("users", "users"), ("roles", "roles")] {
        let listed = allowed[key].as_array().is_some_and(|l| !l.is_empty());
        if listed && parse.contains(&kind) {
            errors.add(
                &["allowed_mentions"],
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                format!("parse:[\"{kind}\"] and {key}: [ids...] are mutually exclusive."),
            );
        }
    }
}

/// The mentions in content, in order.
fn mentions(content: &str) -> Vec<Mention> {
    let mut out = Vec::new();
    let mut rest = content;
    while let Some(at) = rest.find(['<', '@']) {
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("@everyone") {
            out.push(Mention::Everyone);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("@here") {
            out.push(Mention::Here);
            rest = after;
        } else if let Some((m, after)) = tag(rest) {
            out.push(m);
            rest = after;
        } else {
            rest = &rest[1..];
        }
    }
    out
}

/// A `<@id>`, `<@!id>` or `<@&id>` at the start of `s`, and what follows it.
fn tag(s: &str) -> Option<(Mention, &str)> {
    let inner = s.strip_prefix("<@")?;
    let (role, inner) = match inner.strip_prefix('&') {
        Some(r) => (true, r),
        None => (false, inner.strip_prefix('!').unwrap_or(inner)),
    };
    let end = inner.find('>')?;
    let id: u64 = inner[..end].parse().ok()?;
    let m = if role { Mention::Role(id) } else { Mention::User(id) };
    Some((m, &inner[end + 1..]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::pings;

    #[test]
    fn without_allowed_mentions_everything_in_the_content_pings() {
        let p = pings("hi <@1> <@!2> <@&3> @everyone @here <@1>", &json!(null), Some(9));
        assert_eq!(p, ["user:1", "user:2", "role:3", "@everyone", "@here", "user:9"]);
    }

    #[test]
    fn an_empty_parse_pings_only_listed_ids_that_are_mentioned() {
        let allowed = json!({"parse": [], "users": ["1", "5"], "roles": ["3"]});
        let p = pings("<@1> <@2> <@&3> <@&4> @everyone", &allowed, Some(9));
        assert_eq!(p, ["user:1", "role:3"]);
        let allowed = json!({"parse": [], "replied_user": true});
        assert_eq!(pings("@here", &allowed, Some(9)), ["user:9"]);
        assert!(pings("<@ 1> <@x> <@", &json!(null), None).is_empty());
    }

    #[test]
    fn parse_kinds_let_their_mentions_through() {
        let allowed = json!({"parse": ["everyone", "roles"]});
        assert_eq!(pings("<@1> <@&2> @here", &allowed, None), ["role:2", "@here"]);
    }
}
