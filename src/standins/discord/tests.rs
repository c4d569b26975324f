//! The Discord stand-in driven by serenity's own `Http` client: every answer must be one
//! serenity reads, and every error one it maps as it would Discord's.

use std::time::Duration;

use serenity::all::{
    ButtonStyle, ChannelId, ChannelType, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed,
    CreateForumPost, CreateMessage, CreateThread, EditMessage, EditThread, ForumTagId, GetMessages, GuildId, Http,
    HttpBuilder, MessageId, Nonce, Permissions, ReactionType, UserId,
};
use serenity::builder::CreateCommand;
use serenity::http::HttpError;
use serenity::prelude::SerenityError;

use serde_json::json;

use super::DiscordStandIn;

const TOKEN: &str = "stand-in-bot-token";
const GUILD: u64 = 900_000_000_000_000_001;
const TEXT: u64 = 900_000_000_000_000_010;
const FORUM: u64 = 900_000_000_000_000_020;
const TAG: u64 = 900_000_000_000_000_021;
const ALICE: u64 = 900_000_000_000_000_100;
const BOB: u64 = 900_000_000_000_000_101;

async fn setup() -> (DiscordStandIn, Http) {
    let discord = DiscordStandIn::start(TOKEN).await;
    discord.add_guild(GUILD, "Support");
    discord.add_text_channel(GUILD, TEXT, "handoffs");
    discord.add_forum_channel(GUILD, FORUM, "tickets", &[(TAG, "open")]);
    discord.add_user(ALICE, "alice", true);
    discord.add_user(BOB, "bob", false);
    let http = http_for(&discord, TOKEN);
    (discord, http)
}

fn http_for(discord: &DiscordStandIn, token: &str) -> Http {
    HttpBuilder::new(token)
        .proxy(discord.api_url())
        .application_id(DiscordStandIn::APPLICATION_ID.into())
        .ratelimiter_disabled(true)
        .build()
}

/// The Discord error serenity saw: (HTTP status, Discord code, field error paths).
fn discord_error(e: SerenityError) -> (u16, isize, Vec<String>) {
    match e {
        SerenityError::Http(HttpError::UnsuccessfulRequest(r)) => (
            r.status_code.as_u16(),
            r.error.code,
            r.error.errors.into_iter().map(|e| e.path).collect(),
        ),
        other => panic!("not an unsuccessful request: {other:?}"),
    }
}

#[tokio::test]
async fn a_message_with_an_embed_and_buttons_is_sent_edited_and_threaded() {
    let (discord, http) = setup().await;
    let me = http.get_current_user().await.expect("current user");
    assert_eq!(me.id.get(), DiscordStandIn::BOT_USER_ID);
    assert!(me.bot);

    let embed = CreateEmbed::new()
        .title("New handoff")
        .description("A visitor asks for a human")
        .field("Page", "/pricing", true);
    let buttons = CreateActionRow::Buttons(vec![
        CreateButton::new("claim:1").label("Claim").style(ButtonStyle::Primary),
        CreateButton::new("close:1").label("Close").style(ButtonStyle::Danger),
    ]);
    let sent = ChannelId::new(TEXT)
        .send_message(
            &http,
            CreateMessage::new()
                .content("hello")
                .embed(embed)
                .components(vec![buttons]),
        )
        .await
        .expect("send");
    assert_eq!(sent.content, "hello");
    assert_eq!(sent.embeds[0].title.as_deref(), Some("New handoff"));
    assert_eq!(sent.embeds[0].fields[0].value, "/pricing");
    assert_eq!(sent.components[0].components.len(), 2);
    assert_eq!(sent.author.id.get(), DiscordStandIn::BOT_USER_ID);

    let edited = ChannelId::new(TEXT)
        .edit_message(&http, sent.id, EditMessage::new().content("claimed").components(vec![]))
        .await
        .expect("edit");
    assert_eq!(edited.content, "claimed");
    assert!(edited.edited_timestamp.is_some());
    assert!(edited.components.is_empty());

    let thread = ChannelId::new(TEXT)
        .create_thread_from_message(&http, sent.id, CreateThread::new("Visitor 1"))
        .await
        .expect("thread");
    assert_eq!(thread.id.get(), sent.id.get(), "a thread from a message has its id");
    assert_eq!(thread.parent_id, Some(ChannelId::new(TEXT)));
    assert_eq!(thread.kind, ChannelType::PublicThread);

    let reply = thread.id.say(&http, "in the thread").await.expect("post in thread");
    assert_eq!(reply.channel_id, thread.id);
    ChannelId::new(TEXT)
        .create_reaction(&http, sent.id, ReactionType::Unicode("✅".into()))
        .await
        .expect("react");

    // Read back, a reacted message is one serenity reads (every field Discord sends).
    let read = ChannelId::new(TEXT)
        .message(&http, sent.id)
        .await
        .expect("a reacted message reads back");
    assert_eq!(read.reactions.len(), 1);
    assert_eq!(read.reactions[0].count, 1);

    let stored = discord.message(TEXT, sent.id.get()).expect("stored");
    assert!(stored.edited);
    assert_eq!(stored.reactions, vec!["✅".to_string()]);
    assert_eq!(stored.thread_id, Some(thread.id.get()));
    assert_eq!(discord.messages(thread.id.get()).len(), 1);

    ChannelId::new(TEXT)
        .delete_message(&http, sent.id)
        .await
        .expect("delete");
    assert!(discord.message(TEXT, sent.id.get()).is_none());
    assert!(discord.calls().iter().all(|c| c.token_ok));
}

#[tokio::test]
async fn a_forum_post_gets_its_first_message_and_tags() {
    let (discord, http) = setup().await;
    let post = ChannelId::new(FORUM)
        .create_forum_post(
            &http,
            CreateForumPost::new("Visitor 2", CreateMessage::new().content("first"))
                .add_applied_tag(ForumTagId::new(TAG)),
        )
        .await
        .expect("forum post");
    assert_eq!(post.parent_id, Some(ChannelId::new(FORUM)));
    assert_eq!(post.applied_tags, vec![ForumTagId::new(TAG)]);
    let first = discord.messages(post.id.get());
    assert_eq!(first[0].content, "first");
    assert_eq!(first[0].id, post.id.get());

    let edited = post
        .id
        .edit_thread(&http, EditThread::new().applied_tags(vec![]).archived(true))
        .await
        .expect("edit thread");
    assert!(edited.applied_tags.is_empty());
    assert!(edited.thread_metadata.expect("thread metadata").archived);
    post.id.say(&http, "back").await.expect("post unarchives");
    let channel = discord.channel(post.id.get()).expect("thread");
    assert_eq!(channel["thread_metadata"]["archived"], false);
    post.id
        .edit_thread(&http, EditThread::new().locked(true))
        .await
        .expect("lock");
    let err = post.id.say(&http, "x").await.expect_err("locked");
    assert_eq!(discord_error(err).1, 160005);

    let bad_tag =
        CreateForumPost::new("Visitor 3", CreateMessage::new().content("x")).add_applied_tag(ForumTagId::new(1));
    let err = ChannelId::new(FORUM)
        .create_forum_post(&http, bad_tag)
        .await
        .expect_err("unknown tag on a new post");
    assert_eq!(discord_error(err), (400, 50035, vec!["applied_tags".to_string()]));
    let err = post
        .id
        .edit_thread(&http, EditThread::new().applied_tags(vec![ForumTagId::new(1)]))
        .await
        .expect_err("unknown tag");
    assert_eq!(discord_error(err).1, 50035);
}

#[tokio::test]
async fn dms_open_and_a_closed_one_is_50007() {
    let (discord, http) = setup().await;
    let dm = UserId::new(ALICE).create_dm_channel(&http).await.expect("dm");
    assert_eq!(dm.recipient.id.get(), ALICE);
    assert_eq!(discord.dm_channel(ALICE), Some(dm.id.get()));
    let again = UserId::new(ALICE).create_dm_channel(&http).await.expect("dm again");
    assert_eq!(again.id, dm.id);
    dm.id.say(&http, "hi").await.expect("post in dm");

    let closed = UserId::new(BOB).create_dm_channel(&http).await.expect("dm with bob");
    let err = closed.id.say(&http, "hi").await.expect_err("closed dms");
    assert_eq!(discord_error(err), (403, 50007, vec![]));
}

/// Raw bodies: serenity's builders refuse some of these before sending.
#[tokio::test]
async fn limits_are_50035_with_field_paths() {
    let (discord, http) = setup().await;
    let post = |body: serde_json::Value| {
        let http = &http;
        async move {
            let err = http
                .send_message(ChannelId::new(TEXT), vec![], &body)
                .await
                .expect_err("over a limit");
            let (status, code, mut paths) = discord_error(err);
            assert_eq!((status, code), (400, 50035));
            paths.sort();
            paths
        }
    };
    assert_eq!(post(json!({"content": "x".repeat(2001)})).await, ["content"]);
    let embeds: Vec<_> = (0..11).map(|i| json!({"title": format!("e{i}")})).collect();
    assert_eq!(post(json!({"embeds": embeds})).await, ["embeds"]);
    let big = json!({"title": "t".repeat(257), "description": "d".repeat(4097)});
    assert_eq!(
        post(json!({"embeds": [big]})).await,
        ["embeds.0.description", "embeds.0.title"]
    );
    let fields: Vec<_> = (0..26).map(|_| json!({"name": "n", "value": "v"})).collect();
    assert_eq!(post(json!({"embeds": [{"fields": fields}]})).await, ["embeds.0.fields"]);
    let field = json!({"name": "n".repeat(257), "value": "v".repeat(1025)});
    assert_eq!(
        post(json!({"embeds": [{"fields": [field]}]})).await,
        ["embeds.0.fields.0.name", "embeds.0.fields.0.value"]
    );
    let heavy: Vec<_> = (0..2).map(|_| json!({"description": "d".repeat(3001)})).collect();
    assert_eq!(post(json!({"embeds": heavy})).await, ["embeds"]);
    let button = |id: String| json!({"type": 2, "style": 1, "label": "b", "custom_id": id});
    let row = |n: usize| json!({"type": 1, "components": (0..n).map(|i| button(format!("b{i}"))).collect::<Vec<_>>()});
    let rows: Vec<_> = (0..6).map(|_| row(1)).collect();
    assert_eq!(post(json!({"content": "x", "components": rows})).await, ["components"]);
    assert_eq!(
        post(json!({"content": "x", "components": [row(6)]})).await,
        ["components.0.components"]
    );
    let long_id = json!({"type": 1, "components": [button("c".repeat(101))]});
    assert_eq!(
        post(json!({"content": "x", "components": [long_id]})).await,
        ["components.0.components.0.custom_id"]
    );
    let err = http
        .send_message(ChannelId::new(TEXT), vec![], &json!({"content": ""}))
        .await
        .expect_err("empty");
    assert_eq!(discord_error(err), (400, 50006, vec![]));
    assert!(discord.messages(TEXT).is_empty());
}

#[tokio::test]
async fn unknown_objects_wrong_tokens_and_rate_limits() {
    let (discord, http) = setup().await;
    let err = ChannelId::new(1).say(&http, "x").await.expect_err("unknown channel");
    assert_eq!(discord_error(err), (404, 10003, vec![]));
    let err = ChannelId::new(TEXT)
        .edit_message(&http, MessageId::new(1), EditMessage::new().content("x"))
        .await
        .expect_err("unknown message");
    assert_eq!(discord_error(err), (404, 10008, vec![]));

    let err = http_for(&discord, "wrong")
        .get_current_user()
        .await
        .expect_err("wrong token");
    assert_eq!(discord_error(err), (401, 0, vec![]));
    assert!(!discord.calls().last().expect("recorded").token_ok);

    discord.rate_limit_next("POST /channels/{channel_id}/messages", 1, 2.5);
    let err = ChannelId::new(TEXT).say(&http, "x").await.expect_err("rate limited");
    assert_eq!(discord_error(err).0, 429);
    let call = discord.take_calls().pop().expect("recorded");
    assert_eq!(call.status, 429);
    assert_eq!(call.response["retry_after"], 2.5);
    ChannelId::new(TEXT).say(&http, "x").await.expect("after the 429");

    discord.fail_next("post /channels/{channel_id}/messages", 1, 502);
    let err = ChannelId::new(TEXT).say(&http, "x").await.expect_err("502");
    assert_eq!(discord_error(err).0, 502);
    assert_eq!(discord.messages(TEXT).len(), 1);
}

/// What serenity does not expose: the 429's headers and the 401's body, read raw.
#[tokio::test]
async fn a_429_carries_discords_headers_and_a_401_its_body() {
    let (discord, _http) = setup().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v10/users/@me", discord.api_url());
    discord.rate_limit_next("GET /users/@me", 1, 1.5);
    let resp = client
        .get(&url)
        .header("Authorization", format!("Bot {TOKEN}"))
        .send()
        .await
        .expect("429");
    assert_eq!(resp.status().as_u16(), 429);
    let header = |name: &str| resp.headers()[name].to_str().unwrap_or_default().to_string();
    assert_eq!(header("retry-after"), "2");
    assert_eq!(header("x-ratelimit-remaining"), "0");
    assert_eq!(header("x-ratelimit-reset-after"), "1.500");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["retry_after"], 1.5);
    assert_eq!(body["global"], false);
    assert!(body["message"].is_string());

    let resp = client
        .get(&url)
        .header("Authorization", "Bot wrong")
        .send()
        .await
        .expect("401");
    assert_eq!(resp.status().as_u16(), 401);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"message": "401: Unauthorized", "code": 0}));
}

#[tokio::test]
async fn a_thread_without_a_message_and_a_component_update() {
    let (discord, http) = setup().await;
    let thread = ChannelId::new(TEXT)
        .create_thread(&http, CreateThread::new("Notes").kind(ChannelType::PrivateThread))
        .await
        .expect("thread");
    assert_eq!(thread.kind, ChannelType::PrivateThread);
    let fetched = http.get_channel(thread.id).await.expect("get channel");
    assert_eq!(fetched.id(), thread.id);
    let err = ChannelId::new(FORUM).say(&http, "x").await.expect_err("not in a forum");
    assert_eq!(discord_error(err).1, 50024);

    let buttons = CreateActionRow::Buttons(vec![CreateButton::new("claim:2").label("Claim")]);
    let sent = ChannelId::new(TEXT)
        .send_message(&http, CreateMessage::new().content("waiting").components(vec![buttons]))
        .await
        .expect("send");
    discord.register_interaction(78, "tok2", TEXT, Some(sent.id.get()));
    let update = serenity::builder::CreateInteractionResponse::UpdateMessage(
        serenity::builder::CreateInteractionResponseMessage::new()
            .content("claimed by alice")
            .components(vec![]),
    );
    http.create_interaction_response(78.into(), "tok2", &update, vec![])
        .await
        .expect("update");
    let stored = discord.message(TEXT, sent.id.get()).expect("stored");
    assert_eq!(stored.content, "claimed by alice");
    assert!(stored.components.is_empty());
    let err = http
        .create_interaction_response(79.into(), "unknown", &update, vec![])
        .await
        .expect_err("unknown interaction");
    assert_eq!(discord_error(err), (404, 10062, vec![]));
}

#[tokio::test]
async fn delays_and_hangs_hold_the_call() {
    let (discord, http) = setup().await;
    discord.delay_next("GET /users/@me", 1, Duration::from_millis(200));
    let started = std::time::Instant::now();
    http.get_current_user().await.expect("delayed");
    assert!(started.elapsed() >= Duration::from_millis(200));

    discord.hang_next("POST /channels/{channel_id}/messages", 1);
    let hung = tokio::time::timeout(Duration::from_millis(200), ChannelId::new(TEXT).say(&http, "x")).await;
    assert!(hung.is_err(), "the call hangs");
    assert_eq!(discord.calls().last().expect("recorded").status, 0);
    discord.clear_faults();
    ChannelId::new(TEXT).say(&http, "x").await.expect("after the hang");
}

#[tokio::test]
async fn gateway_interactions_and_commands() {
    let (discord, http) = setup().await;
    let gateway = http.get_gateway().await.expect("gateway");
    assert_eq!(gateway.url, discord.gateway_url());
    let bot = http.get_bot_gateway().await.expect("bot gateway");
    assert_eq!(bot.shards, 1);

    let commands = GuildId::new(GUILD)
        .set_commands(&http, vec![CreateCommand::new("handoff").description("Take a handoff")])
        .await
        .expect("commands");
    assert_eq!(commands[0].name, "handoff");
    assert_eq!(discord.commands(GUILD).len(), 1);

    discord.register_interaction(77, "tok", TEXT, None);
    let answer = serenity::builder::CreateInteractionResponse::Message(
        serenity::builder::CreateInteractionResponseMessage::new().content("on it"),
    );
    http.create_interaction_response(77.into(), "tok", &answer, vec![])
        .await
        .expect("callback");
    assert_eq!(discord.interaction_callbacks().len(), 1);
    let original = http
        .edit_original_interaction_response("tok", &EditMessage::new().content("done"), vec![])
        .await
        .expect("edit original");
    assert_eq!(original.content, "done");
    let followup = serenity::builder::CreateInteractionResponseFollowup::new().content("more");
    let msg = http
        .create_followup_message("tok", &followup, vec![])
        .await
        .expect("followup");
    assert_eq!(msg.channel_id.get(), TEXT);
    let err = http
        .create_interaction_response(77.into(), "tok", &answer, vec![])
        .await
        .expect_err("answered twice");
    assert_eq!(discord_error(err).1, 40060);
}

#[tokio::test]
async fn history_pages_newest_first() {
    let (discord, http) = setup().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = if i % 2 == 0 {
            discord.user_message(TEXT, ALICE, &format!("m{i}"))
        } else {
            ChannelId::new(TEXT)
                .say(&http, format!("m{i}"))
                .await
                .expect("say")
                .id
                .get()
        };
        ids.push(id);
    }
    let page = |b: GetMessages| {
        let http = &http;
        async move {
            let ms = ChannelId::new(TEXT).messages(http, b).await.expect("history");
            ms.iter().map(|m| m.id.get()).collect::<Vec<_>>()
        }
    };
    let newest_first: Vec<u64> = ids.iter().rev().copied().collect();
    assert_eq!(page(GetMessages::new()).await, newest_first);
    assert_eq!(page(GetMessages::new().limit(2)).await, newest_first[..2]);
    assert_eq!(page(GetMessages::new().after(ids[1]).limit(2)).await, [ids[3], ids[2]]);
    assert_eq!(page(GetMessages::new().before(ids[3])).await, [ids[2], ids[1], ids[0]]);
    assert_eq!(
        page(GetMessages::new().around(ids[2]).limit(3)).await,
        [ids[3], ids[2], ids[1]]
    );

    let one = ChannelId::new(TEXT)
        .message(&http, MessageId::new(ids[0]))
        .await
        .expect("one message");
    assert_eq!((one.content.as_str(), one.author.id.get()), ("m0", ALICE));
    let err = ChannelId::new(TEXT)
        .message(&http, MessageId::new(1))
        .await
        .expect_err("unknown");
    assert_eq!(discord_error(err), (404, 10008, vec![]));
    let err = http
        .get_messages(ChannelId::new(TEXT), None, Some(0))
        .await
        .expect_err("limit 0");
    assert_eq!(discord_error(err), (400, 50035, vec!["limit".to_string()]));
}

#[tokio::test]
async fn a_repeated_nonce_returns_the_first_message() {
    let (discord, http) = setup().await;
    let send = |nonce: &str, enforce: bool| {
        let body = CreateMessage::new()
            .content("handoff 42 is waiting")
            .nonce(Nonce::String(nonce.to_string()))
            .enforce_nonce(enforce);
        ChannelId::new(TEXT).send_message(&http, body)
    };
    let first = send("outbox-42", true).await.expect("first");
    let again = send("outbox-42", true).await.expect("again");
    assert_eq!(again.id, first.id);
    assert_eq!(discord.messages(TEXT).len(), 1);
    assert_eq!(discord.messages(TEXT)[0].nonce.as_deref(), Some("outbox-42"));
    let other = send("outbox-43", true).await.expect("another nonce");
    assert_ne!(other.id, first.id);
    let unenforced = send("outbox-42", false).await.expect("not enforced");
    assert_ne!(unenforced.id, first.id);
    assert_eq!(discord.messages(TEXT).len(), 3);
}

#[tokio::test]
async fn pings_follow_allowed_mentions_and_replies() {
    let (discord, http) = setup().await;
    let content = format!("<@{ALICE}> <@{BOB}> @everyone");
    let open = ChannelId::new(TEXT).say(&http, &content).await.expect("say");
    let stored = discord.message(TEXT, open.id.get()).expect("stored");
    assert_eq!(
        stored.pings,
        [format!("user:{ALICE}"), format!("user:{BOB}"), "@everyone".into()]
    );
    assert!(stored.allowed_mentions.is_null());
    assert!(open.mention_everyone);

    let only_alice = CreateAllowedMentions::new().users([UserId::new(ALICE)]);
    let quiet = ChannelId::new(TEXT)
        .send_message(
            &http,
            CreateMessage::new().content(&content).allowed_mentions(only_alice),
        )
        .await
        .expect("quiet");
    let stored = discord.message(TEXT, quiet.id.get()).expect("stored");
    assert_eq!(stored.pings, [format!("user:{ALICE}")]);
    assert_eq!(stored.allowed_mentions["parse"], json!([]));
    assert!(!quiet.mention_everyone);

    let question = discord.user_message(TEXT, BOB, "anyone?");
    let reply = |ping: bool| {
        let body = CreateMessage::new()
            .content("on it")
            .reference_message((ChannelId::new(TEXT), MessageId::new(question)))
            .allowed_mentions(CreateAllowedMentions::new().replied_user(ping));
        ChannelId::new(TEXT).send_message(&http, body)
    };
    let pinging = reply(true).await.expect("reply");
    assert_eq!(pinging.referenced_message.as_ref().map(|m| m.id.get()), Some(question));
    let stored = discord.message(TEXT, pinging.id.get()).expect("stored");
    assert_eq!(
        (stored.replied_to, stored.pings.clone()),
        (Some(question), vec![format!("user:{BOB}")])
    );
    let silent = reply(false).await.expect("silent reply");
    assert!(discord.message(TEXT, silent.id.get()).expect("stored").pings.is_empty());

    let dangling = CreateMessage::new()
        .content("x")
        .reference_message((ChannelId::new(TEXT), MessageId::new(1)));
    let err = ChannelId::new(TEXT)
        .send_message(&http, dangling)
        .await
        .expect_err("unknown reply");
    assert_eq!(discord_error(err), (400, 50035, vec!["message_reference".to_string()]));
}

#[tokio::test]
async fn members_have_the_permissions_they_were_given() {
    let (discord, http) = setup().await;
    discord.set_member(GUILD, ALICE, Permissions::MANAGE_THREADS.bits());
    let alice = GuildId::new(GUILD)
        .member(&http, UserId::new(ALICE))
        .await
        .expect("member");
    assert_eq!(alice.user.name, "alice");
    assert!(alice.roles.is_empty());
    let err = GuildId::new(1)
        .member(&http, UserId::new(ALICE))
        .await
        .expect_err("unknown guild");
    assert_eq!(discord_error(err), (404, 10004, vec![]));
    let err = GuildId::new(GUILD)
        .member(&http, UserId::new(7))
        .await
        .expect_err("unknown user");
    assert_eq!(discord_error(err).1, 10013);
}

/// Serenity reads a user's files on a message, and the CDN serves them without a token
/// at the signed links given, and at no other: a tampered or expired link, or one to a
/// deleted message's file, is Discord's 404 "This content is no longer available.".
#[tokio::test]
async fn a_users_files_are_served_at_their_signed_links_only() {
    let (discord, http) = setup().await;
    let files = [
        ("photo.gif", "image/gif", b"GIF89a\x05\x00\x04\x00rest".to_vec()),
        ("call notes.txt", "text/plain", b"call me back".to_vec()),
    ];
    let id = discord.user_message_with_files(TEXT, ALICE, "", &files);
    let read = || {
        let http = &http;
        async move {
            let m = ChannelId::new(TEXT)
                .message(http, MessageId::new(id))
                .await
                .expect("a message with files reads back");
            m.attachments
        }
    };
    let attachments = read().await;
    let [photo, notes] = &attachments[..] else {
        panic!("not two attachments: {attachments:?}");
    };
    assert_eq!((photo.dimensions(), photo.size), (Some((5, 4)), 14));
    assert_eq!(notes.content_type.as_deref(), Some("text/plain"));
    let link = format!(
        "{}/attachments/{TEXT}/{}/call%20notes.txt?ex=",
        discord.cdn_url(),
        notes.id
    );
    assert!(notes.url.starts_with(&link), "{}", notes.url);
    let stored = discord.message(TEXT, id).expect("stored");
    assert_eq!(stored.attachments[1].filename, "call notes.txt");
    assert_eq!(stored.attachments[1].size, 12);

    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = &client;
        async move {
            let resp = client.get(url).send().await.expect("the CDN answers");
            let status = resp.status().as_u16();
            let kind = resp.headers().get("content-type").cloned();
            (status, kind, resp.bytes().await.expect("body").to_vec())
        }
    };
    let gone = |got: (u16, Option<reqwest::header::HeaderValue>, Vec<u8>)| {
        (got.0, String::from_utf8_lossy(&got.2).into_owned())
    };
    let gone_answer = (404, "This content is no longer available.".to_string());
    let (status, kind, bytes) = get(notes.url.clone()).await;
    assert_eq!((status, bytes.as_slice()), (200, &b"call me back"[..]));
    assert_eq!(kind.expect("a content type"), "text/plain");
    assert_eq!(discord.cdn_fetches(), [notes.id.get()]);

    // A signature that does not match, a later expiry, another file, no signature.
    let hm = notes.url.find("hm=").expect("hm") + 3;
    let mut tampered = notes.url.clone();
    let flipped = if &tampered[hm..=hm] == "0" { "1" } else { "0" };
    tampered.replace_range(hm..=hm, flipped);
    assert_eq!(gone(get(tampered).await), gone_answer);
    let ex = notes
        .url
        .split("ex=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("ex");
    let later = format!("{:x}", u64::from_str_radix(ex, 16).expect("hex") + 3600);
    assert_eq!(gone(get(notes.url.replace(ex, &later)).await), gone_answer);
    let other = notes.url.replace(&notes.id.to_string(), &photo.id.to_string());
    assert_eq!(gone(get(other).await), gone_answer);
    let unsigned = notes.url.split('?').next().expect("path").to_string();
    assert_eq!(gone(get(unsigned).await), gone_answer);

    // An expired link; reading the message again gives a fresh one.
    discord.set_attachment_link_lifetime(Duration::ZERO);
    let expired = read().await[0].url.clone();
    assert_eq!(gone(get(expired).await), gone_answer);
    discord.set_attachment_link_lifetime(Duration::from_secs(600));
    let fresh = read().await[0].url.clone();
    assert_eq!(get(fresh.clone()).await.2, files[0].2);

    // Faults queued for the CDN's route apply; its fetches are not API calls.
    discord.fail_next("GET /attachments/{channel_id}/{attachment_id}/{filename}", 1, 503);
    assert_eq!(get(fresh.clone()).await.0, 503);
    assert_eq!(get(fresh.clone()).await.0, 200);
    assert_eq!(discord.cdn_fetches(), [notes.id.get(), photo.id.get(), photo.id.get()]);
    let statuses: Vec<u16> = discord.cdn_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 404, 404, 404, 404, 404, 200, 503, 200]);
    assert!(discord.calls().iter().all(|c| c.path.starts_with("/channels/")));

    discord.hang_next("GET /attachments/{channel_id}/{attachment_id}/{filename}", 1);
    let hung = tokio::time::timeout(Duration::from_millis(200), get(fresh.clone())).await;
    assert!(hung.is_err(), "the fetch hangs");
    discord.clear_faults();
    assert_eq!(get(fresh.clone()).await.0, 200);

    discord.user_delete(TEXT, id);
    assert_eq!(gone(get(fresh).await), gone_answer);
}
