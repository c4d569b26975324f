//! Reading a channel's history from the Discord stand-in:
//! `GET /channels/{channel_id}/messages` with `limit` (1 to 100, 50 by default) and one
//! of `before`, `after` or `around`, answered newest first as Discord does
//! (<https://discord.com/developers/docs/resources/message#get-channel-messages>) — what
//! a bridge uses to catch up on what it missed while it was away. Ephemeral messages
//! are not part of a channel's history.

use std::collections::HashMap;

use serde_json::Value;

use super::messages::flag;
use super::state::{Msg, World};
use super::wire::{FormErrors, Reply};

/// Which messages a history request asks for.
enum Window {
    Latest,
    Before(u64),
    After(u64),
    Around(u64),
}

impl World {
    /// `GET /channels/{channel_id}/messages`.
    pub(super) fn list_messages(&self, channel: &str, query: &HashMap<String, String>) -> Reply {
        let c = self.channel(channel)?.id;
        let (limit, window) = parse(query)?;
        let visible: Vec<&Msg> = self
            .messages
            .get(&c)
            .into_iter()
            .flat_map(|ms| ms.values())
            .filter(|m| m.flags & flag::EPHEMERAL == 0)
            .collect();
        let older = |id: u64| visible.iter().copied().filter(move |m| m.id < id);
        let newer = |id: u64| visible.iter().copied().filter(move |m| m.id >= id);
        let mut page: Vec<&Msg> = match window {
            Window::Latest => visible.iter().rev().take(limit).copied().collect(),
            Window::Before(id) => older(id).rev().take(limit).collect(),
            Window::After(id) => newer(id.saturating_add(1)).take(limit).collect(),
            Window::Around(id) => {
                let mut page: Vec<&Msg> = older(id).rev().take(limit / 2).collect();
                let rest = limit - page.len();
                page.extend(newer(id).take(rest));
                page
            }
        };
        page.sort_by_key(|m| std::cmp::Reverse(m.id));
        Ok((
            200,
            Value::Array(page.into_iter().map(|m| self.message_json(m)).collect()),
        ))
    }
}

/// The limit and window of a query; Discord's 50035 for values it would refuse.
fn parse(query: &HashMap<String, String>) -> Result<(usize, Window), super::wire::Failure> {
    let mut errors = FormErrors::default();
    let mut limit = 50;
    if let Some(raw) = query.get("limit") {
        match raw.parse::<i64>() {
            Ok(n) if n < 1 => errors.add(
                &["limit"],
                "NUMBER_TYPE_MIN",
                "int value should be greater than or equal to 1.".into(),
            ),
            Ok(n) if n > 100 => errors.add(
                &["limit"],
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 100.".into(),
            ),
            Ok(n) => limit = n as usize,
            Err(_) => errors.add(&["limit"], "NUMBER_TYPE_COERCE", format!("Value \"{raw}\" is not int.")),
        }
    }
    let mut snowflake = |key: &str| -> Option<u64> {
        let raw = query.get(key)?;
        let id = raw.parse::<u64>().ok();
        if id.is_none() {
            errors.add(
                &[key],
                "NUMBER_TYPE_COERCE",
                format!("Value \"{raw}\" is not snowflake."),
            );
        }
        id
    };
    let (around, before, after) = (snowflake("around"), snowflake("before"), snowflake("after"));
    errors.into_result()?;
    let window = match (around, before, after) {
        (Some(id), _, _) => Window::Around(id),
        (None, Some(id), _) => Window::Before(id),
        (None, None, Some(id)) => Window::After(id),
        (None, None, None) => Window::Latest,
    };
    Ok((limit, window))
}
