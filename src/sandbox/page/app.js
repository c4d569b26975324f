// The sandbox page: draws /sandbox/state every second and acts only through the
// sandbox's controls (which send what Slack, Discord and the widget platform send) and
// the HTTP API (with the chosen demo operator's token).
"use strict";

let state = null;
let filter = "unassigned";
let selected = null;
let stream = null;

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};

function me() {
  const id = Number($("me").value);
  return state && state.operators.find((o) => o.id === id);
}

function showError(text) {
  $("error").textContent = text || "";
}

async function post(path, body) {
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const answer = await res.json().catch(() => ({}));
  const inner = answer.answer || answer;
  const problem = (inner && inner.error && inner.error.message) || (answer.error && answer.error.message);
  showError(res.ok && (!answer.status || answer.status < 400) ? "" : problem || `refused (${answer.status || res.status})`);
  await refresh();
  return { res, answer };
}

async function api(path) {
  const o = me();
  if (!o) return null;
  const res = await fetch(path, { headers: { authorization: `Bearer ${o.token}` } });
  return res.ok ? res.json() : null;
}

// A one-line form: `send(text)` on submit, then cleared.
function sayForm(placeholder, label, button, send, attrs = {}) {
  return el("form", { ...attrs, onsubmit: (ev) => {
    ev.preventDefault();
    const text = ev.target.elements.text.value;
    ev.target.reset();
    send(text);
  } }, el("input", { name: "text", placeholder, "aria-label": label }), el("button", {}, button));
}

// Platform markup as the clients show it: Slack `<url|label>` links, `*bold*` (Slack)
// and `**bold**` (Discord), `>` quotes, times (Slack `<!date^…|…>`, Discord `<t:…:t>`)
// in the reader's own zone, user group and role mentions; everything else as typed.
function rich(text) {
  const out = [];
  const pattern = /<(https?:[^|>]+)\|([^>]+)>|<!date\^(\d+)\^[^|>]*\|[^>]*>|<t:(\d+):[A-Za-z]>|<!subteam\^(\w+)>|<@&(\d+)>|\*\*([^*]+)\*\*|\*([^*\n]+)\*|(https?:\/\/\S+)/g;
  const clock = (secs) => new Date(Number(secs) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  let at = 0;
  for (const m of String(text).matchAll(pattern)) {
    out.push(String(text).slice(at, m.index).replace(/^>\s?/gm, "│ "));
    if (m[1]) out.push(el("a", { href: m[1], target: "_blank", rel: "noopener" }, m[2]));
    else if (m[3] || m[4]) out.push(el("time", {}, clock(m[3] || m[4])));
    else if (m[5] || m[6]) out.push(el("b", { class: "mention" }, `@${m[5] || m[6]}`));
    else if (m[7] || m[8]) out.push(el("b", {}, m[7] || m[8]));
    else out.push(el("a", { href: m[9], target: "_blank", rel: "noopener" }, "link"));
    at = m.index + m[0].length;
  }
  out.push(String(text).slice(at).replace(/^>\s?/gm, "│ "));
  return out;
}

function lineOf(author, text, cls = "") {
  return el("div", { class: `line ${cls}` }, el("b", {}, `${author}: `), rich(text));
}

function drawWidgets() {
  const box = $("widgets");
  box.replaceChildren();
  for (const w of state.widgets) {
    const chats = state.chats.filter((c) => c.widget === w.id);
    const start = sayForm("I'd like to talk to a person", `Ask ${w.id} for a human`, "Ask for a human",
      (text) => post("/sandbox/visitor", { widget: w.id, text, handoff: true }), { "data-testid": `visitor-${w.id}` });
    const section = el("div", { class: "widget" }, el("h4", {}, `Widget ${w.id} (${w.routing})`), start);
    for (const c of chats) {
      const say = sayForm("Write as the visitor", `Visitor message in ${c.conversation}`, "Send",
        (text) => post("/sandbox/visitor", { widget: w.id, conversation: c.conversation, text }));
      const lines = c.lines.map((l) =>
        l.from === "system" ? el("div", { class: "line system" }, l.text) : lineOf(l.from === "visitor" ? "You" : l.name || "Agent", l.text));
      section.append(el("div", { class: "chat", "data-conversation": c.conversation }, el("h4", {}, c.conversation), lines, say));
    }
    box.append(section);
  }
}

function buttonsOf(list, onclick) {
  if (!list.length) return [];
  return el("div", { class: "buttons" }, list.map((b) => el("button", { type: "button", onclick: () => onclick(b) }, b.label)));
}

// The reactions the bridge adds, drawn as Slack draws them; others by name.
const SLACK_EMOJI = { white_check_mark: "✅", warning: "⚠️", eyes: "👀" };

function slackMessage(m, root) {
  const o = me();
  const buttons = buttonsOf(m.buttons, (b) => post("/sandbox/slack/click", { operator: o.id, ts: root || m.ts, action_id: b.action_id, value: b.value }));
  const reactions = m.reactions.length ? el("span", { class: "reactions" }, ` ${m.reactions.map((r) => SLACK_EMOJI[r] || `:${r}:`).join(" ")}`) : "";
  return el("div", { class: root ? "reply" : "" }, el("div", { class: "line" }, el("b", {}, `${m.author}: `), rich(m.text), reactions), buttons);
}

function drawSlack() {
  const o = me();
  const threads = $("slack-threads");
  threads.replaceChildren();
  if (!state.slack.threads.length) threads.append(el("p", { class: "empty" }, "No threads yet: ask for a human in a visitor panel."));
  for (const t of state.slack.threads) {
    const say = sayForm("Reply in thread (// for a note)", `Slack reply in ${t.root.ts}`, "Send",
      (text) => post("/sandbox/slack/say", { operator: o.id, thread_ts: t.root.ts, text }));
    threads.append(el("div", { class: "thread", "data-ts": t.root.ts }, slackMessage(t.root), t.replies.map((r) => slackMessage(r, t.root.ts)), say));
  }
  $("slack-private").replaceChildren(...o.slack.private.slice(-3).map((p) => el("div", { class: "note" }, "Only you: ", rich(p.text))));
  $("slack-dms").replaceChildren(...(o.slack.dms.length ? o.slack.dms.map((m) => el("div", { class: "dm" }, rich(m.text))) : [el("p", { class: "empty" }, "None.")]));
}

function discordMessage(m, isReply) {
  const o = me();
  const buttons = buttonsOf(m.buttons, (b) => post("/sandbox/discord/click", { operator: o.id, channel: m.channel, message: m.id, custom_id: b.custom_id }));
  const reactions = m.reactions.length ? el("span", { class: "reactions" }, ` ${m.reactions.join(" ")}`) : "";
  return el("div", { class: isReply ? "reply" : "" }, el("div", { class: "line" }, el("b", {}, `${m.author}: `), rich(m.text), reactions), buttons);
}

function drawDiscord() {
  const o = me();
  const threads = $("discord-threads");
  threads.replaceChildren();
  if (!state.discord.threads.length) threads.append(el("p", { class: "empty" }, "No threads yet."));
  for (const t of state.discord.threads) {
    const say = t.thread ? sayForm("Message the thread (// for a note)", `Discord reply in ${t.thread}`, "Send",
      (text) => post("/sandbox/discord/say", { operator: o.id, thread: t.thread, text })) : "";
    threads.append(el("div", { class: "thread", "data-thread": t.thread || "" }, discordMessage(t.root, false), t.replies.map((r) => discordMessage(r, true)), say));
  }
  $("discord-private").replaceChildren(...o.discord.private.slice(-3).map((p) => el("div", { class: "note" }, "Only you: ", rich(p.text))));
  $("discord-dms").replaceChildren(...(o.discord.dms.length ? o.discord.dms.map((m) => el("div", { class: "dm" }, rich(m.text))) : [el("p", { class: "empty" }, "None.")]));
}

// Modals Slack or Discord opened for the operator (Resolve, Transfer…), as forms.
function drawModals() {
  const o = me();
  const box = $("modals");
  const active = document.activeElement;
  const typing = box.contains(active) && (active.tagName === "INPUT" || active.tagName === "SELECT");
  if (typing) return;
  // What was filled in survives the redraw, as in a real modal.
  const kept = new Map();
  for (const form of box.querySelectorAll("[data-modal] form")) {
    kept.set(form.parentElement.dataset.modal, [...form.querySelectorAll("input, select")]
      .map((i) => ({ name: i.name, value: i.value, checked: i.checked, box: i.type === "checkbox" })));
  }
  box.replaceChildren();
  for (const m of o.modals) {
    const errors = m.errors || {};
    const fields = m.fields.map((f) => {
      let input;
      if (f.kind === "select") {
        input = el("select", { name: f.id }, el("option", { value: "" }, "—"), f.options.map((opt) => el("option", { value: opt.value }, opt.text)));
      } else if (f.kind === "checkboxes") {
        input = el("div", { class: "checks" }, f.options.map((opt) =>
          el("label", {}, el("input", { type: "checkbox", name: f.id, value: opt.value }), ` ${opt.text}`)));
      } else {
        input = el("input", { name: f.id });
      }
      const problem = errors[f.id] ? el("div", { class: "field-error", role: "alert" }, errors[f.id]) : "";
      return [el("label", {}, f.label || f.id), input, problem];
    });
    const form = el("form", { onsubmit: (ev) => {
      ev.preventDefault();
      if (document.activeElement) document.activeElement.blur();
      const values = {};
      for (const f of m.fields) {
        values[f.id] = f.kind === "checkboxes"
          ? [...ev.target.querySelectorAll(`input[name="${CSS.escape(f.id)}"]:checked`)].map((c) => c.value).join(",")
          : ev.target.elements[f.id].value;
      }
      post("/sandbox/modal", { operator: o.id, platform: m.platform, id: m.id, values, channel: m.channel, message: m.message });
    } }, fields, el("div", { class: "actions" }, el("button", {}, m.submit || "Submit")));
    for (const was of kept.get(m.id) || []) {
      for (const i of form.querySelectorAll(`[name="${CSS.escape(was.name)}"]`)) {
        if (was.box && i.value === was.value) i.checked = was.checked;
        else if (!was.box) i.value = was.value;
      }
    }
    box.append(el("div", { class: `modal ${m.platform}`, "data-modal": m.id }, el("h3", {}, `${m.platform === "slack" ? "Slack" : "Discord"}: ${m.title || "Form"}`), form));
  }
}

async function drawInbox() {
  const list = await api(`/v1/conversations?filter=${filter}`);
  const ul = $("conversations");
  ul.replaceChildren();
  for (const c of list || []) {
    const who = c.assignee ? c.assignee.name : "nobody";
    ul.append(el("li", { class: c.id === selected ? "on" : "", onclick: () => { selected = c.id; drawInbox(); } }, `${c.id}: ${c.status}, ${who}`));
  }
  if (list && !list.length) ul.append(el("li", { class: "empty" }, "Nothing here."));
  if (!selected) return;
  const detail = await api(`/v1/conversations/${encodeURIComponent(selected)}`);
  $("audit-of").textContent = selected;
  $("audit").replaceChildren(...((detail && detail.audit) || []).map((a) =>
    el("li", {}, `v${a.version}: ${a.from_status || "new"} → ${a.to_status} (${a.reason}, by ${a.actor})`)));
}

// The change feed, read as a stream so the operator's token can go in a header.
async function follow() {
  if (stream) stream.abort();
  const o = me();
  if (!o) return;
  stream = new AbortController();
  try {
    const res = await fetch("/v1/events", { headers: { authorization: `Bearer ${o.token}` }, signal: stream.signal });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = chunk.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
        if (!data) continue;
        try {
          const e = JSON.parse(data);
          if (!e.conversation_id) continue;
          const who = e.assignee ? `, ${e.assignee.name}` : "";
          $("live").prepend(el("li", {}, `v${e.version} ${e.conversation_id} → ${e.status}${who} (${e.reason} by ${e.actor})`));
          while ($("live").children.length > 20) $("live").lastChild.remove();
        } catch (_) { /* not a change */ }
      }
    }
  } catch (_) { /* aborted or closed: the next refresh draws what changed */ }
}

async function refresh() {
  try {
    const res = await fetch("/sandbox/state");
    state = await res.json();
  } catch (e) {
    showError(`the sandbox does not answer: ${e}`);
    return;
  }
  const select = $("me");
  if (!select.options.length) {
    for (const o of state.operators) select.append(el("option", { value: o.id }, `${o.name} (${o.role})`));
    select.addEventListener("change", () => { refresh(); follow(); });
    follow();
  }
  // A redraw replaces the forms: the field someone is in keeps its text and focus.
  const focused = document.activeElement;
  const label = focused && focused.tagName === "INPUT" ? focused.getAttribute("aria-label") : null;
  const typed = label && { value: focused.value, at: focused.selectionStart };
  drawWidgets();
  drawSlack();
  drawDiscord();
  drawModals();
  if (label) {
    const again = document.querySelector(`input[aria-label="${CSS.escape(label)}"]`);
    if (again && again !== focused) {
      again.value = typed.value;
      again.focus();
      again.setSelectionRange(typed.at, typed.at);
    }
  }
  drawInbox();
}

for (const b of document.querySelectorAll(".tabs button")) {
  b.addEventListener("click", () => {
    filter = b.dataset.filter;
    for (const x of document.querySelectorAll(".tabs button")) x.classList.toggle("on", x === b);
    drawInbox();
  });
}
$("slack-command").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = ev.target.elements.text.value.replace(/^\/handoff\s*/, "");
  ev.target.reset();
  post("/sandbox/slack/command", { operator: me().id, text }).then(({ answer }) => {
    const said = answer && answer.answer && answer.answer.text;
    if (said) $("slack-private").prepend(el("div", { class: "note", "data-testid": "command-answer" }, `Only you: ${said}`));
  });
});

refresh();
setInterval(() => {
  // Not while someone types: a redraw would take their text.
  if (document.activeElement && document.activeElement.tagName === "INPUT" && document.activeElement.value) return;
  refresh();
}, 1000);
