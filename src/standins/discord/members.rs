//! Guild members in the Discord stand-in: who belongs to a guild and with which
//! permissions, as interactions (`member.permissions`), the gateway's messages
//! (`member`) and `GET /guilds/{guild_id}/members/{user_id}` show them.
//!
//! Every known user (bots included, webhooks not) is a member of every guild, with no
//! permissions unless [`DiscordStandIn::set_member`] gave some; the bot itself has the
//! usual permissions of a bot that posts, threads and reacts.

use serde_json::{Value, json};

use super::DiscordStandIn;
use super::state::{User, World};
use super::wire::{Reply, error};

/// When every member joined.
const JOINED_AT: &str = "2024-01-01T00:00:00.000000+00:00";

/// The bot's permissions unless set: view channels, send messages (also in threads),
/// embed links, attach files, read history, add reactions, create and manage threads,
/// use application commands.
pub(super) const BOT_PERMISSIONS: u64 = (1 << 6)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 31)
    | (1 << 34)
    | (1 << 35)
    | (1 << 36)
    | (1 << 38);

impl World {
    /// Whether `user` is a member of `guild`.
    pub(super) fn is_member(&self, guild: u64, user: u64) -> bool {
        self.guilds.contains_key(&guild) && self.users.get(&user).is_some_and(|u| !u.webhook)
    }

    /// A member's permissions in `guild`.
    pub(super) fn permissions(&self, guild: u64, user: u64) -> u64 {
        let default = if user == DiscordStandIn::BOT_USER_ID {
            BOT_PERMISSIONS
        } else {
            0
        };
        self.members.get(&(guild, user)).copied().unwrap_or(default)
    }

    /// A member as Discord shows it: with its `user` if `with_user` (the REST and
    /// interaction forms), without it otherwise (a message's author, resolved data).
    pub(super) fn member_json(&self, guild: u64, user: u64, with_user: bool) -> Option<Value> {
        if !self.is_member(guild, user) {
            return None;
        }
        let mut v = json!({
            "nick": null,
            "avatar": null,
            "banner": null,
            "roles": [],
            "joined_at": JOINED_AT,
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": null,
            "unusual_dm_activity_until": null,
        });
        if with_user {
            v["user"] = self.user_json(user);
        }
        Some(v)
    }

    /// A member with its permissions, as an interaction (and its resolved data) shows it.
    pub(super) fn member_with_permissions(&self, guild: u64, user: u64, with_user: bool) -> Option<Value> {
        let mut v = self.member_json(guild, user, with_user)?;
        v["permissions"] = json!(self.permissions(guild, user).to_string());
        Some(v)
    }

    /// `GET /guilds/{guild_id}/members/{user_id}`.
    pub(super) fn get_member(&self, guild: &str, user: &str) -> Reply {
        let Some(g) = guild.parse::<u64>().ok().filter(|g| self.guilds.contains_key(g)) else {
            return Err(error(404, 10004, "Unknown Guild"));
        };
        let Some(u) = user.parse::<u64>().ok().filter(|u| self.users.contains_key(u)) else {
            return Err(error(404, 10013, "Unknown User"));
        };
        match self.member_json(g, u, true) {
            Some(m) => Ok((200, m)),
            None => Err(error(404, 10007, "Unknown Member")),
        }
    }
}

impl DiscordStandIn {
    /// Makes `user` a member of `guild` with `permissions` (a bit set, shown as a string
    /// in payloads). Users are members of every guild with permissions 0 unless set.
    pub fn set_member(&self, guild: u64, user: u64, permissions: u64) {
        self.shared.lock().members.insert((guild, user), permissions);
    }

    /// Another bot user (its messages carry `bot: true`).
    pub fn add_bot(&self, id: u64, name: &str) {
        self.shared.lock().users.insert(id, User::new(name, true));
    }
}
