//! The Discord stand-in's gateway driven by serenity's own `Client`: every dispatch
//! must reach an `EventHandler` (serenity drops, with only a log line, any payload it
//! cannot read), every answer to an interaction must go through serenity's builders,
//! and a dropped connection must be resumed with nothing lost.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use serenity::all::{
    ActionRowComponent, ButtonStyle, ChannelId, Client, ClientBuilder, CommandDataOptionValue,
    ComponentInteractionDataKind, Context, CreateActionRow, CreateButton, CreateForumPost, CreateInputText,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    CreateModal, EditInteractionResponse, EditMessage, EventHandler, GatewayError, GatewayIntents, GuildChannel,
    GuildId, Http, HttpBuilder, InputTextStyle, Interaction, Message, MessageFlags, MessageId, MessageUpdateEvent,
    Permissions, Ready, ResumedEvent, ShardManager, UserId,
};
use serenity::builder::CreateCommand;
use serenity::http::HttpError;
use serenity::prelude::SerenityError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::DiscordStandIn;

const TOKEN: &str = "stand-in-bot-token";
const GUILD: u64 = 910_000_000_000_000_001;
const TEXT: u64 = 910_000_000_000_000_010;
const FORUM: u64 = 910_000_000_000_000_020;
const TAG: u64 = 910_000_000_000_000_021;
const ALICE: u64 = 910_000_000_000_000_100;
const CAROL: u64 = 910_000_000_000_000_102;
const OTHER_BOT: u64 = 910_000_000_000_000_103;
/// How long anything may take to arrive; tests wait on events, never on time.
const WAIT: Duration = Duration::from_secs(10);

/// What the bot's handler saw.
#[derive(Debug)]
enum Seen {
    Ready(Box<Ready>),
    Resumed,
    Message(Box<Message>),
    Updated(Box<MessageUpdateEvent>),
    Deleted(ChannelId, MessageId, Option<GuildId>),
    Interaction(Box<Interaction>),
    Thread(Box<GuildChannel>),
}

/// Forwards every event it handles to the test.
struct Forward(mpsc::UnboundedSender<Seen>);

#[serenity::async_trait]
impl EventHandler for Forward {
    async fn ready(&self, _: Context, ready: Ready) {
        let _ = self.0.send(Seen::Ready(Box::new(ready)));
    }

    async fn resume(&self, _: Context, _: ResumedEvent) {
        let _ = self.0.send(Seen::Resumed);
    }

    async fn message(&self, _: Context, message: Message) {
        let _ = self.0.send(Seen::Message(Box::new(message)));
    }

    async fn message_update(&self, _: Context, _: Option<Message>, _: Option<Message>, event: MessageUpdateEvent) {
        let _ = self.0.send(Seen::Updated(Box::new(event)));
    }

    async fn message_delete(&self, _: Context, channel: ChannelId, id: MessageId, guild: Option<GuildId>) {
        let _ = self.0.send(Seen::Deleted(channel, id, guild));
    }

    async fn interaction_create(&self, _: Context, interaction: Interaction) {
        let _ = self.0.send(Seen::Interaction(Box::new(interaction)));
    }

    async fn thread_create(&self, _: Context, thread: GuildChannel) {
        let _ = self.0.send(Seen::Thread(Box::new(thread)));
    }
}

/// A serenity client connected to the stand-in.
struct Bot {
    http: Arc<Http>,
    events: mpsc::UnboundedReceiver<Seen>,
    shards: Arc<ShardManager>,
    run: JoinHandle<Result<(), SerenityError>>,
}

async fn stand_in() -> DiscordStandIn {
    let discord = DiscordStandIn::start(TOKEN).await;
    discord.add_guild(GUILD, "Support");
    discord.add_text_channel(GUILD, TEXT, "handoffs");
    discord.add_forum_channel(GUILD, FORUM, "tickets", &[(TAG, "open")]);
    discord.add_user(ALICE, "alice", true);
    discord.add_user(CAROL, "carol", true);
    discord.set_member(GUILD, ALICE, Permissions::MANAGE_THREADS.bits());
    discord
}

fn http_for(discord: &DiscordStandIn, token: &str) -> Http {
    HttpBuilder::new(token)
        .proxy(discord.api_url())
        .application_id(DiscordStandIn::APPLICATION_ID.into())
        .ratelimiter_disabled(true)
        .build()
}

fn all_intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
}

async fn client(
    discord: &DiscordStandIn,
    token: &str,
    intents: GatewayIntents,
) -> (Client, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = ClientBuilder::new_with_http(http_for(discord, token), intents)
        .event_handler(Forward(tx))
        .await
        .expect("client");
    (client, rx)
}

impl Bot {
    /// Connects a client and waits for its READY.
    async fn start(discord: &DiscordStandIn, intents: GatewayIntents) -> Bot {
        let (mut client, events) = client(discord, TOKEN, intents).await;
        let mut bot = Bot {
            http: client.http.clone(),
            shards: client.shard_manager.clone(),
            events,
            run: tokio::spawn(async move { client.start().await }),
        };
        let ready = bot
            .next("READY", |e| match e {
                Seen::Ready(r) => Some(r),
                _ => None,
            })
            .await;
        assert_eq!(ready.user.id.get(), DiscordStandIn::BOT_USER_ID);
        bot
    }

    /// The next event `pick` takes, skipping the others; panics after [`WAIT`].
    async fn next<T>(&mut self, what: &str, mut pick: impl FnMut(Seen) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(seen)) => {
                    if let Some(t) = pick(seen) {
                        return t;
                    }
                }
                Ok(None) => panic!("the client stopped before {what}"),
                Err(_) => panic!("no {what} within {WAIT:?}"),
            }
        }
    }

    /// The message `id` as the `message` handler got it.
    async fn message(&mut self, id: u64) -> Message {
        let m = self
            .next(&format!("MESSAGE_CREATE {id}"), |e| match e {
                Seen::Message(m) if m.id.get() == id => Some(m),
                _ => None,
            })
            .await;
        *m
    }

    /// The MESSAGE_UPDATE of message `id` as the `message_update` handler got it.
    async fn updated(&mut self, id: u64) -> MessageUpdateEvent {
        let u = self
            .next(&format!("MESSAGE_UPDATE {id}"), |e| match e {
                Seen::Updated(u) if u.id.get() == id => Some(u),
                _ => None,
            })
            .await;
        *u
    }

    /// The channel and guild of the MESSAGE_DELETE of message `id`, as the
    /// `message_delete` handler got them.
    async fn deleted(&mut self, id: u64) -> (ChannelId, Option<GuildId>) {
        self.next(&format!("MESSAGE_DELETE {id}"), |e| match e {
            Seen::Deleted(c, m, g) if m.get() == id => Some((c, g)),
            _ => None,
        })
        .await
    }

    /// The interaction `id` as the `interaction_create` handler got it.
    async fn interaction(&mut self, id: u64) -> Interaction {
        let i = self
            .next(&format!("INTERACTION_CREATE {id}"), |e| match e {
                Seen::Interaction(i) if i.id().get() == id => Some(i),
                _ => None,
            })
            .await;
        *i
    }

    async fn stop(self) {
        self.shards.shutdown_all().await;
        let ended = tokio::time::timeout(WAIT, self.run).await.expect("client stops");
        ended.expect("client task").expect("client ends cleanly");
    }
}

/// The Discord error code serenity saw.
fn discord_code(e: SerenityError) -> isize {
    match e {
        SerenityError::Http(HttpError::UnsuccessfulRequest(r)) => r.error.code,
        other => panic!("not an unsuccessful request: {other:?}"),
    }
}

/// A message by the bot with a button, a user select and a string select.
async fn panel(http: &Http) -> Message {
    let rows = vec![
        CreateActionRow::Buttons(vec![
            CreateButton::new("claim").label("Claim").style(ButtonStyle::Primary),
        ]),
        CreateActionRow::SelectMenu(serenity::all::CreateSelectMenu::new(
            "assign",
            serenity::all::CreateSelectMenuKind::User { default_users: None },
        )),
        CreateActionRow::SelectMenu(serenity::all::CreateSelectMenu::new(
            "priority",
            serenity::all::CreateSelectMenuKind::String {
                options: vec![
                    serenity::all::CreateSelectMenuOption::new("High", "high"),
                    serenity::all::CreateSelectMenuOption::new("Low", "low"),
                ],
            },
        )),
    ];
    ChannelId::new(TEXT)
        .send_message(http, CreateMessage::new().content("New handoff").components(rows))
        .await
        .expect("panel")
}

#[tokio::test]
async fn ready_then_users_messages_reach_the_handler_with_their_content() {
    let discord = stand_in().await;
    assert!(!discord.gateway().connected);
    let mut bot = Bot::start(&discord, all_intents()).await;
    assert!(discord.wait_for_session(WAIT).await);
    let stats = discord.gateway();
    assert_eq!((stats.identifies, stats.resumes), (1, 0));
    assert_eq!(stats.intents, Some(all_intents().bits()));

    let id = discord.user_message(TEXT, ALICE, "hello, can someone help?");
    let m = bot.message(id).await;
    assert_eq!(m.content, "hello, can someone help?");
    assert_eq!(m.author.id.get(), ALICE);
    assert!(!m.author.bot);
    assert_eq!(m.guild_id, Some(GuildId::new(GUILD)));
    assert!(m.member.is_some(), "a guild message carries its author's member");
    assert_eq!(discord.message(TEXT, id).expect("stored").author_id, ALICE);

    let dm = discord.open_dm(CAROL);
    let id = discord.user_message(dm, CAROL, "psst");
    let m = bot.message(id).await;
    assert_eq!((m.content.as_str(), m.guild_id), ("psst", None));

    let id = discord.webhook_message(TEXT, "from a webhook");
    let m = bot.message(id).await;
    assert!(m.author.bot);
    assert_eq!(m.webhook_id.map(|w| w.get()), Some(m.author.id.get()));

    discord.add_bot(OTHER_BOT, "helper-bot");
    let id = discord.user_message(TEXT, OTHER_BOT, "beep");
    let m = bot.message(id).await;
    assert!(m.author.bot);
    assert_eq!(m.webhook_id, None);
    bot.stop().await;
}

#[tokio::test]
async fn without_the_message_content_intent_only_mentions_and_dms_carry_content() {
    let discord = stand_in().await;
    let intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::DIRECT_MESSAGES;
    let mut bot = Bot::start(&discord, intents).await;
    let plain = discord.user_message(TEXT, ALICE, "nobody sees this");
    assert_eq!(bot.message(plain).await.content, "");
    let mention = format!("<@{}> help", DiscordStandIn::BOT_USER_ID);
    let id = discord.user_message(TEXT, ALICE, &mention);
    assert_eq!(bot.message(id).await.content, mention);
    let dm = discord.open_dm(ALICE);
    let id = discord.user_message(dm, ALICE, "in a DM");
    assert_eq!(bot.message(id).await.content, "in a DM");
    assert_eq!(
        discord.message(TEXT, plain).expect("stored").content,
        "nobody sees this"
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_button_click_is_answered_ephemerally_edited_and_followed_up() {
    let discord = stand_in().await;
    let mut bot = Bot::start(&discord, all_intents()).await;
    let panel = panel(&bot.http).await;
    let click = discord.click_button(TEXT, panel.id.get(), ALICE, "claim");
    let Interaction::Component(ci) = bot.interaction(click.id).await else {
        panic!("not a component interaction");
    };
    assert!(matches!(ci.data.kind, ComponentInteractionDataKind::Button));
    assert_eq!(ci.data.custom_id, "claim");
    assert_eq!(ci.message.id, panel.id);
    assert_eq!(ci.user.id.get(), ALICE);
    assert_eq!(ci.token, click.token);
    let member = ci.member.as_ref().expect("member");
    assert_eq!(member.permissions, Some(Permissions::MANAGE_THREADS));
    assert_eq!(ci.guild_id, Some(GuildId::new(GUILD)));

    let answer = CreateInteractionResponseMessage::new()
        .content("claimed")
        .ephemeral(true);
    ci.create_response(&bot.http, CreateInteractionResponse::Message(answer.clone()))
        .await
        .expect("answer");
    let err = ci
        .create_response(&bot.http, CreateInteractionResponse::Message(answer))
        .await
        .expect_err("a second answer");
    assert_eq!(discord_code(err), 40060);
    let edited = ci
        .edit_response(&bot.http, EditInteractionResponse::new().content("claimed by alice"))
        .await
        .expect("edit original");
    assert!(edited.flags.expect("flags").contains(MessageFlags::EPHEMERAL));
    let original = discord.message(TEXT, edited.id.get()).expect("stored");
    assert_eq!(original.content, "claimed by alice");
    assert_eq!(original.visible_to, Some(ALICE));
    let followup = ci
        .create_followup(
            &bot.http,
            CreateInteractionResponseFollowup::new().content("thread opened"),
        )
        .await
        .expect("followup");
    assert_ne!(followup.id, edited.id);
    assert_eq!(bot.message(followup.id.get()).await.content, "thread opened");
    let routes: Vec<_> = discord
        .interaction_responses(&click.token)
        .iter()
        .map(|r| r["route"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(routes, ["callback", "edit_original", "followup"]);
    bot.stop().await;
}

#[tokio::test]
async fn selects_carry_their_values_and_a_deferred_update_edits_the_panel() {
    let discord = stand_in().await;
    let mut bot = Bot::start(&discord, all_intents()).await;
    let panel = panel(&bot.http).await;
    let pick = discord.choose_users(TEXT, panel.id.get(), ALICE, "assign", &[CAROL]);
    let Interaction::Component(ci) = bot.interaction(pick.id).await else {
        panic!("not a component interaction");
    };
    let ComponentInteractionDataKind::UserSelect { values } = &ci.data.kind else {
        panic!("not a user select: {:?}", ci.data.kind);
    };
    assert_eq!(values, &[UserId::new(CAROL)]);
    assert_eq!(ci.data.resolved.users[&UserId::new(CAROL)].name, "carol");
    assert!(ci.data.resolved.members.contains_key(&UserId::new(CAROL)));
    ci.defer(&bot.http).await.expect("deferred update");
    ci.edit_response(&bot.http, EditInteractionResponse::new().content("assigned to carol"))
        .await
        .expect("edit the panel");
    assert_eq!(
        discord.message(TEXT, panel.id.get()).expect("panel").content,
        "assigned to carol"
    );
    let updated = bot
        .next("MESSAGE_UPDATE of the panel", |e| match e {
            Seen::Updated(u) if u.id == panel.id => Some(u),
            _ => None,
        })
        .await;
    assert_eq!(updated.content.as_deref(), Some("assigned to carol"));

    let pick = discord.choose_strings(TEXT, panel.id.get(), ALICE, "priority", &["high"]);
    let Interaction::Component(ci) = bot.interaction(pick.id).await else {
        panic!("not a component interaction");
    };
    let ComponentInteractionDataKind::StringSelect { values } = &ci.data.kind else {
        panic!("not a string select: {:?}", ci.data.kind);
    };
    assert_eq!(values, &["high".to_string()]);
    let update = CreateInteractionResponseMessage::new()
        .content("priority: high")
        .components(vec![]);
    ci.create_response(&bot.http, CreateInteractionResponse::UpdateMessage(update))
        .await
        .expect("update the panel");
    let stored = discord.message(TEXT, panel.id.get()).expect("panel");
    assert_eq!(stored.content, "priority: high");
    assert!(stored.components.is_empty());
    bot.stop().await;
}

#[tokio::test]
async fn a_modal_is_opened_and_its_submission_read() {
    let discord = stand_in().await;
    let mut bot = Bot::start(&discord, all_intents()).await;
    let panel = panel(&bot.http).await;
    let click = discord.click_button(TEXT, panel.id.get(), ALICE, "claim");
    let Interaction::Component(ci) = bot.interaction(click.id).await else {
        panic!("not a component interaction");
    };
    let input = CreateInputText::new(InputTextStyle::Paragraph, "Note", "note");
    let modal = CreateModal::new("close-note", "Close the handoff").components(vec![CreateActionRow::InputText(input)]);
    ci.create_response(&bot.http, CreateInteractionResponse::Modal(modal))
        .await
        .expect("modal");
    assert_eq!(discord.interaction_responses(&click.token)[0]["body"]["type"], 9);

    let submit = discord.submit_modal(
        TEXT,
        Some(panel.id.get()),
        ALICE,
        "close-note",
        &[("note", "solved by phone")],
    );
    let Interaction::Modal(mi) = bot.interaction(submit.id).await else {
        panic!("not a modal submission");
    };
    assert_eq!(mi.data.custom_id, "close-note");
    let ActionRowComponent::InputText(text) = &mi.data.components[0].components[0] else {
        panic!("not a text input");
    };
    assert_eq!(
        (text.custom_id.as_str(), text.value.as_deref()),
        ("note", Some("solved by phone"))
    );
    assert_eq!(mi.message.as_ref().map(|m| m.id), Some(panel.id));
    let done = CreateInteractionResponseMessage::new().content("closed");
    mi.create_response(&bot.http, CreateInteractionResponse::Message(done))
        .await
        .expect("answer the modal");
    bot.stop().await;
}

#[tokio::test]
async fn a_slash_command_with_a_subcommand_is_deferred_then_filled() {
    let discord = stand_in().await;
    let mut bot = Bot::start(&discord, all_intents()).await;
    let commands = GuildId::new(GUILD)
        .set_commands(&bot.http, vec![CreateCommand::new("handoff").description("Handoffs")])
        .await
        .expect("commands");
    let options = json!([{"name": "routing", "type": 1, "options": [
        {"name": "widget", "type": 3, "value": "support"},
        {"name": "agent", "type": 6, "value": CAROL.to_string()},
    ]}]);
    let run = discord.run_command(GUILD, TEXT, ALICE, "handoff", options);
    let Interaction::Command(cmd) = bot.interaction(run.id).await else {
        panic!("not a command");
    };
    assert_eq!(cmd.data.id, commands[0].id);
    assert_eq!(cmd.data.name, "handoff");
    let CommandDataOptionValue::SubCommand(sub) = &cmd.data.options[0].value else {
        panic!("not a subcommand: {:?}", cmd.data.options);
    };
    assert_eq!(cmd.data.options[0].name, "routing");
    assert_eq!(sub[0].value, CommandDataOptionValue::String("support".into()));
    assert_eq!(sub[1].value, CommandDataOptionValue::User(UserId::new(CAROL)));
    assert!(cmd.data.resolved.users.contains_key(&UserId::new(CAROL)));

    cmd.defer(&bot.http).await.expect("defer");
    let loading = bot
        .next("the loading message", |e| match e {
            Seen::Message(m) if m.flags.is_some_and(|f| f.contains(MessageFlags::LOADING)) => Some(m),
            _ => None,
        })
        .await;
    let filled = cmd
        .edit_response(&bot.http, EditInteractionResponse::new().content("routed to support"))
        .await
        .expect("fill the original");
    assert_eq!(filled.id, loading.id);
    assert!(!filled.flags.unwrap_or_default().contains(MessageFlags::LOADING));
    let more = cmd
        .create_followup(&bot.http, CreateInteractionResponseFollowup::new().content("more"))
        .await
        .expect("followup");
    assert_ne!(more.id, filled.id);

    // Right after an ephemeral defer, a follow-up fills the loading message instead.
    let run = discord.run_command(GUILD, TEXT, ALICE, "handoff", json!([]));
    let Interaction::Command(cmd) = bot.interaction(run.id).await else {
        panic!("not a command");
    };
    cmd.defer_ephemeral(&bot.http).await.expect("defer ephemerally");
    let followup = cmd
        .create_followup(&bot.http, CreateInteractionResponseFollowup::new().content("only you"))
        .await
        .expect("followup after defer");
    let original = cmd.get_response(&bot.http).await.expect("original");
    assert_eq!(followup.id, original.id);
    let stored = discord.message(TEXT, original.id.get()).expect("stored");
    assert_eq!((stored.content.as_str(), stored.flags), ("only you", 64));
    assert_eq!(stored.visible_to, Some(ALICE));
    bot.stop().await;
}

#[tokio::test]
async fn an_interaction_answered_after_its_window_is_unknown() {
    let discord = stand_in().await;
    let mut bot = Bot::start(&discord, all_intents()).await;
    discord.set_interaction_window(Duration::ZERO);
    let run = discord.run_command(GUILD, TEXT, ALICE, "handoff", json!([]));
    let Interaction::Command(cmd) = bot.interaction(run.id).await else {
        panic!("not a command");
    };
    let err = cmd.defer(&bot.http).await.expect_err("too late");
    assert_eq!(discord_code(err), 10062);
    bot.stop().await;
}

#[tokio::test]
async fn a_dropped_connection_is_resumed_and_what_was_missed_replayed() {
    let discord = stand_in().await;
    let mut bot = Bot::start(&discord, all_intents()).await;
    discord.drop_connections();
    assert!(!discord.gateway().connected);
    // Sent while the socket is down: it waits for the RESUME.
    let id = discord.user_message(TEXT, ALICE, "are you there?");
    assert_eq!(bot.message(id).await.content, "are you there?");
    bot.next("RESUMED", |e| matches!(e, Seen::Resumed).then_some(())).await;
    assert!(discord.wait_for_gateway(WAIT, |g| g.connected && g.resumes == 1).await);
    let stats = discord.gateway();
    assert_eq!(stats.identifies, 1);
    assert!(stats.replayed >= 1);
    let id = discord.user_message(TEXT, ALICE, "after the resume");
    assert_eq!(bot.message(id).await.content, "after the resume");
    bot.stop().await;

    assert!(!discord.gateway().connected, "a clean close ends the session");
    let dispatched = discord.gateway().dispatched;
    discord.user_message(TEXT, ALICE, "nobody listens");
    assert_eq!(discord.gateway().dispatched, dispatched);
}

#[tokio::test]
async fn heartbeats_are_acknowledged_and_the_session_holds() {
    let discord = stand_in().await;
    discord.set_heartbeat_interval(200);
    let bot = Bot::start(&discord, all_intents()).await;
    assert!(discord.wait_for_gateway(WAIT, |g| g.heartbeats >= 2).await);
    let stats = discord.gateway();
    assert!(stats.connected);
    assert_eq!((stats.identifies, stats.resumes), (1, 0));
    bot.stop().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_4004() {
    let discord = stand_in().await;
    let (mut client, _events) = client(&discord, "wrong-token", all_intents()).await;
    let ended = tokio::time::timeout(WAIT, client.start())
        .await
        .expect("the client gives up");
    match ended {
        Err(SerenityError::Gateway(GatewayError::InvalidAuthentication)) => {}
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(discord.gateway().identifies, 0);
}

#[tokio::test]
async fn threads_edits_and_deletes_come_back_over_the_gateway() {
    let discord = stand_in().await;
    let mut bot = Bot::start(&discord, all_intents()).await;
    let post = ChannelId::new(FORUM)
        .create_forum_post(
            &bot.http,
            CreateForumPost::new("Visitor 7", CreateMessage::new().content("first")),
        )
        .await
        .expect("forum post");
    let thread = bot
        .next("THREAD_CREATE", |e| match e {
            Seen::Thread(t) => Some(t),
            _ => None,
        })
        .await;
    assert_eq!((thread.id, thread.parent_id), (post.id, Some(ChannelId::new(FORUM))));
    let first = bot.message(post.id.get()).await;
    assert_eq!(first.author.id.get(), DiscordStandIn::BOT_USER_ID);

    post.id
        .edit_thread(&bot.http, serenity::all::EditThread::new().archived(true))
        .await
        .expect("archive");
    let reply = discord.user_message(post.id.get(), ALICE, "thanks");
    assert_eq!(bot.message(reply).await.channel_id, post.id);
    let reopened = discord.channel(post.id.get()).expect("thread");
    assert_eq!(
        reopened["thread_metadata"]["archived"], false,
        "a user's message reopens the thread"
    );
    let sent = post.id.say(&bot.http, "you're welcome").await.expect("say");
    bot.message(sent.id.get()).await;
    post.id
        .edit_message(&bot.http, sent.id, EditMessage::new().content("edited"))
        .await
        .expect("edit");
    let updated = bot
        .next("MESSAGE_UPDATE", |e| match e {
            Seen::Updated(u) if u.id == sent.id => Some(u),
            _ => None,
        })
        .await;
    assert_eq!(updated.content.as_deref(), Some("edited"));
    post.id.delete_message(&bot.http, sent.id).await.expect("delete");
    bot.next("MESSAGE_DELETE", |e| match e {
        Seen::Deleted(_, id, _) if id == sent.id => Some(()),
        _ => None,
    })
    .await;
    bot.stop().await;
}

/// The file a user posts in the tests: a PNG's first bytes, enough for its size (3×2).
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend(3u32.to_be_bytes());
    bytes.extend(2u32.to_be_bytes());
    bytes.extend([8, 6, 0, 0, 0]);
    bytes
}

#[tokio::test]
async fn a_users_files_edit_and_deletion_reach_the_handler() {
    let discord = stand_in().await;
    let mut bot = Bot::start(&discord, all_intents()).await;
    let files = [
        ("shot.png", "image/png", png()),
        ("notes.txt", "text/plain", b"call me back".to_vec()),
    ];
    let id = discord.user_message_with_files(TEXT, ALICE, "see attached", &files);
    let m = bot.message(id).await;
    assert_eq!(m.content, "see attached");
    let [shot, notes] = &m.attachments[..] else {
        panic!("not two attachments: {:?}", m.attachments);
    };
    assert_eq!(
        (shot.filename.as_str(), shot.content_type.as_deref(), shot.size),
        ("shot.png", Some("image/png"), png().len() as u32)
    );
    assert_eq!(shot.dimensions(), Some((3, 2)));
    assert_eq!((notes.filename.as_str(), notes.dimensions()), ("notes.txt", None));
    assert!(notes.url.starts_with(&discord.cdn_url()));
    assert_eq!(notes.download().await.expect("download"), b"call me back");
    assert_eq!(discord.cdn_fetches(), [notes.id.get()]);

    discord.user_edit(TEXT, id, "see attached (the second one is older)");
    let updated = bot.updated(id).await;
    assert_eq!(
        updated.content.as_deref(),
        Some("see attached (the second one is older)")
    );
    assert!(updated.edited_timestamp.is_some());
    assert_eq!(updated.author.as_ref().map(|a| a.id.get()), Some(ALICE));
    assert_eq!(
        (updated.channel_id, updated.guild_id),
        (ChannelId::new(TEXT), Some(GuildId::new(GUILD)))
    );
    let kept: Vec<_> = updated.attachments.iter().flatten().map(|a| a.id).collect();
    assert_eq!(kept, [shot.id, notes.id], "an edit keeps the files");
    let stored = discord.message(TEXT, id).expect("stored");
    assert!(stored.edited);
    assert_eq!(stored.content, "see attached (the second one is older)");
    assert_eq!(stored.attachments.len(), 2);

    discord.user_delete(TEXT, id);
    assert_eq!(bot.deleted(id).await, (ChannelId::new(TEXT), Some(GuildId::new(GUILD))));
    assert!(discord.message(TEXT, id).is_none());
    let gone = reqwest::get(&shot.url).await.expect("an answer");
    assert_eq!(gone.status().as_u16(), 404, "a deleted message's files are gone");
    assert_eq!(discord.cdn_fetches(), [notes.id.get()]);
    bot.stop().await;
}

#[tokio::test]
async fn without_the_message_content_intent_an_edit_shows_neither_text_nor_files() {
    let discord = stand_in().await;
    let intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::DIRECT_MESSAGES;
    let mut bot = Bot::start(&discord, intents).await;
    let files = [("shot.png", "image/png", png())];
    let id = discord.user_message_with_files(TEXT, ALICE, "unseen", &files);
    let m = bot.message(id).await;
    assert_eq!((m.content.as_str(), m.attachments.len()), ("", 0));
    discord.user_edit(TEXT, id, "still unseen");
    let updated = bot.updated(id).await;
    assert_eq!(updated.content.as_deref(), Some(""));
    assert_eq!(updated.attachments.map(|a| a.len()), Some(0));
    let mention = format!("<@{}> now you see it", DiscordStandIn::BOT_USER_ID);
    discord.user_edit(TEXT, id, &mention);
    let updated = bot.updated(id).await;
    assert_eq!(
        updated.content.as_deref(),
        Some(mention.as_str()),
        "a mention lifts the veil"
    );
    assert_eq!(updated.attachments.map(|a| a.len()), Some(1));

    let dm = discord.open_dm(ALICE);
    let id = discord.user_message_with_files(dm, ALICE, "in a DM", &files);
    assert_eq!(bot.message(id).await.attachments.len(), 1);
    discord.user_delete(dm, id);
    assert_eq!(bot.deleted(id).await, (ChannelId::new(dm), None));
    bot.stop().await;
}
