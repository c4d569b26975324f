//! The Slack stand-in's modals: `views.open` (each `trigger_id` works once) and
//! `views.update` (by `view_id` or `external_id`, optionally guarded by `hash`), and the
//! fields Slack adds to a view it hands back or puts in a `view_submission`.

use serde_json::{Map, Value, json};

use super::blocks::validate_view;
use super::state::World;
use super::wire::{Args, Reply, api_error, validation_error};
use super::{OpenedView, SlackStandIn};
use crate::signature::unix_now;

impl World {
    /// The view as Slack returns it: `view` plus the fields Slack adds.
    fn stateful_view(view: Value, id: &str, root: &str) -> Value {
        let mut v = match view {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let hash = format!("{}.{:08x}", unix_now(), rand::random::<u32>());
        let fixed = [
            ("id", json!(id)),
            ("team_id", json!(SlackStandIn::TEAM)),
            ("state", json!({"values": {}})),
            ("hash", json!(hash)),
            ("previous_view_id", Value::Null),
            ("root_view_id", json!(root)),
            ("app_id", json!(SlackStandIn::APP_ID)),
            ("app_installed_team_id", json!(SlackStandIn::TEAM)),
            ("bot_id", json!(SlackStandIn::BOT_ID)),
        ];
        for (k, val) in fixed {
            v.insert(k.to_string(), val);
        }
        let defaults = [
            ("private_metadata", json!("")),
            ("callback_id", json!("")),
            ("external_id", json!("")),
            ("clear_on_close", json!(false)),
            ("notify_on_close", json!(false)),
            ("close", Value::Null),
            ("submit", Value::Null),
        ];
        for (k, val) in defaults {
            v.entry(k.to_string()).or_insert(val);
        }
        Value::Object(v)
    }

    /// Like [`World::stateful_view`] but keeps whatever Slack fields `view` already has.
    pub(super) fn stateful_view_keep(view: Value, id: &str) -> Value {
        let filled = Self::stateful_view(Value::Object(Map::new()), id, id);
        let mut v = match view {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        v.entry("type".to_string()).or_insert(json!("modal"));
        if let Value::Object(defaults) = filled {
            for (k, val) in defaults {
                v.entry(k).or_insert(val);
            }
        }
        Value::Object(v)
    }

    /// The `view` argument, parsed and checked against the modal limits.
    fn checked_view(a: &Args) -> Result<Value, Value> {
        let view = match a.json("view") {
            Ok(Some(v)) => v,
            Ok(None) => {
                return Err(validation_error(
                    "invalid_arguments",
                    &["missing required field: view".to_string()],
                ));
            }
            Err(()) => return Err(validation_error("invalid_arguments", &["invalid `view`".to_string()])),
        };
        let problems = validate_view(&view);
        if !problems.is_empty() {
            return Err(validation_error("invalid_arguments", &problems));
        }
        Ok(view)
    }

    pub(super) fn open_view(&mut self, a: &Args) -> Reply {
        let trigger_id = a
            .non_empty("trigger_id")
            .ok_or_else(|| validation_error("invalid_arguments", &["invalid `trigger_id`".to_string()]))?;
        if self.triggers_used.contains(&trigger_id) {
            return Err(api_error("exchanged_trigger_id"));
        }
        let view = Self::checked_view(a)?;
        let id = self.new_id('V');
        let stored = Self::stateful_view(view, &id, &id);
        self.triggers_used.insert(trigger_id.clone());
        self.views.push(OpenedView {
            trigger_id,
            view_id: id,
            view: stored.clone(),
        });
        Ok(json!({"view": stored}))
    }

    pub(super) fn update_view(&mut self, a: &Args) -> Reply {
        let view_id = a.non_empty("view_id");
        let external_id = a.non_empty("external_id");
        let idx = self
            .views
            .iter()
            .position(|v| {
                view_id.as_deref() == Some(v.view_id.as_str())
                    || (external_id.is_some() && external_id.as_deref() == v.view["external_id"].as_str())
            })
            .ok_or_else(|| api_error("not_found"))?;
        if let Some(hash) = a.non_empty("hash")
            && self.views[idx].view["hash"].as_str() != Some(hash.as_str())
        {
            return Err(api_error("hash_conflict"));
        }
        let view = Self::checked_view(a)?;
        let id = self.views[idx].view_id.clone();
        let root = self.views[idx].view["root_view_id"].as_str().unwrap_or(&id).to_string();
        let stored = Self::stateful_view(view, &id, &root);
        self.views[idx].view = stored.clone();
        Ok(json!({"view": stored}))
    }
}
