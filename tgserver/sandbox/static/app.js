// The sandbox page: plain JavaScript over the server's JSON API, live through
// server-sent events. No build step, nothing loaded from the internet.
"use strict";

const UI = {
  zh: {
    title: "安全助手 · 本地沙盒", persona: "身份", clock: "时间", send: "发送",
    sample_photo: "📷 示例照片", upload: "📎 文件", location: "📍 位置",
    type: "输入消息或 / 命令", menu: "命令菜单", upload_hint: "从电脑选择照片或文件",
    reply: "回复", replying: "回复", edited: "已编辑", open: "打开", download: "下载",
    steps: {15: "+15 分钟", 60: "+1 小时", 240: "+4 小时", 1440: "+1 天"},
    location_prompt: "纬度,经度", no_bot: "机器人不在这个群里", vote: "投票",
    closed: "已结束", other_lang: "English", private: "私聊",
  },
  en: {
    title: "Safety bot · local sandbox", persona: "Persona", clock: "Clock", send: "Send",
    sample_photo: "📷 Sample photo", upload: "📎 File", location: "📍 Location",
    type: "Type a message or a / command", menu: "Command menu",
    upload_hint: "Pick a photo or file from disk", reply: "Reply", replying: "Replying to",
    edited: "edited", open: "open", download: "download",
    steps: {15: "+15 min", 60: "+1 h", 240: "+4 h", 1440: "+1 day"},
    location_prompt: "latitude,longitude", no_bot: "The bot is not in this group",
    vote: "Vote", closed: "closed", other_lang: "中文", private: "private",
  },
};

const state = {
  lang: localStorage.getItem("sandbox.lang") || (navigator.language || "zh").slice(0, 2),
  persona: localStorage.getItem("sandbox.persona") || null,
  chat: null, personas: [], bot: null, timezone: "UTC",
  replyTo: null, dismissed: null, commands: [], messages: [], busy: 0,
};
if (!UI[state.lang]) state.lang = "zh";
const $ = (id) => document.getElementById(id);
const t = (key) => UI[state.lang][key];

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ ok: false, error: response.statusText }));
  if (!response.ok || body.ok === false) {
    toast(body.error || response.statusText, true);
    throw new Error(body.error);
  }
  return body;
}

function post(path, data) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" },
                     body: JSON.stringify(data) });
}

function toast(text, alert) {
  const box = $("toast");
  box.textContent = text;
  box.className = alert ? "alert" : "";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, alert ? 6000 : 3500);
}

function translate() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
    el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.querySelectorAll("[data-i18n-title]").forEach((el) => {
    el.title = t(el.dataset.i18nTitle); });
  $("lang").textContent = t("other_lang");
  document.title = t("title");
  renderPersonas();
  renderSteps();
}

function renderPersonas() {
  const select = $("persona");
  select.replaceChildren(...state.personas.map((p) => {
    const option = document.createElement("option");
    option.value = p.id;
    option.textContent = `${p.name} — ${p.role[state.lang]}`;
    return option;
  }));
  if (state.persona) select.value = state.persona;
}

function renderSteps() {
  const box = $("steps");
  box.replaceChildren(...state.steps.map((minutes) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.minutes = minutes;
    button.textContent = t("steps")[minutes];
    button.onclick = () => advance(minutes);
    return button;
  }));
}

function showClock(iso) {
  const when = new Date(iso);
  state.clock = when;
  const text = when.toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", {
    timeZone: state.timezone, weekday: "short", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit" });
  $("clock").textContent = text;
}

async function advance(minutes) {
  const done = await post("/api/clock", { minutes });
  showClock(done.clock);
}

// ---------------------------------------------------------------- chats

async function loadChats() {
  const { chats } = await api(`/api/chats?persona=${encodeURIComponent(state.persona)}`);
  if (!chats.some((c) => c.id === state.chat)) state.chat = chats[0] ? chats[0].id : null;
  $("chats").replaceChildren(...chats.map((c) => {
    const item = document.createElement("div");
    item.className = "chat" + (c.id === state.chat ? " open" : "");
    item.dataset.id = c.id;
    item.dataset.title = c.title;
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = c.type === "private" ? `${c.title} (${t("private")})` : c.title;
    const last = document.createElement("div");
    last.className = "last";
    last.textContent = c.bot_here ? c.last : t("no_bot");
    item.append(name, last);
    item.onclick = () => openChat(c.id);
    return item;
  }));
}

async function openChat(id) {
  if (state.chat !== id) { setReply(null); state.dismissed = null; }
  state.chat = id;
  await loadChats();
  await loadMessages();
}

async function loadMessages() {
  if (state.chat === null) return;
  const data = await api(`/api/chats/${state.chat}?persona=${encodeURIComponent(state.persona)}`);
  state.messages = data.messages;
  state.commands = data.commands;
  $("chat-title").textContent = data.chat.title;
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  state.stick = atBottom || loadMessages.first !== state.chat;
  box.replaceChildren(...data.messages.map(renderMessage));
  if (state.stick) box.scrollTop = box.scrollHeight;
  loadMessages.first = state.chat;
  // A ForceReply prompt opens a reply, as a Telegram client does.
  if (data.reply_to && !state.replyTo && state.dismissed !== data.reply_to) {
    setReply(data.messages.find((m) => m.id === data.reply_to) || null);
  }
  if (state.replyTo && !data.messages.some((m) => m.id === state.replyTo.id)) setReply(null);
}

function renderMessage(m) {
  if (m.service) {
    const line = document.createElement("div");
    line.className = "service";
    line.textContent = m.service[state.lang];
    return line;
  }
  const box = document.createElement("div");
  box.className = "msg" + (m.mine ? " mine" : "") + (m.is_bot ? " bot" : "");
  box.dataset.id = m.id;
  const from = document.createElement("div");
  from.className = "from";
  from.textContent = m.from;
  box.append(from);
  if (m.reply_to) {
    const quote = document.createElement("div");
    quote.className = "quote";
    quote.textContent = `${m.reply_to.from}: ${m.reply_to.text}`;
    box.append(quote);
  }
  if (m.photo) {
    const img = document.createElement("img");
    img.src = m.photo;
    img.alt = "photo";
    // A picture arriving after the scroll would push the newest message out of view.
    img.onload = () => { if (state.stick) $("messages").scrollTop = $("messages").scrollHeight; };
    box.append(img);
  }
  if (m.document) {
    const link = document.createElement("a");
    link.href = m.document.url;
    link.target = "_blank";
    link.className = "document";
    link.textContent = `📄 ${m.document.name}`;
    const save = document.createElement("a");
    save.href = m.document.url + "?download=1";
    save.textContent = ` (${t("download")})`;
    box.append(link, save);
  }
  if (m.location) {
    const where = document.createElement("div");
    where.textContent = `📍 ${m.location.latitude.toFixed(5)}, ${m.location.longitude.toFixed(5)}`;
    box.append(where);
  }
  if (m.html !== undefined) {
    const text = document.createElement("div");
    text.className = "text";
    text.innerHTML = m.html; // the server escaped everything but the entities' tags
    box.append(text);
  }
  if (m.poll) box.append(renderPoll(m));
  if (m.buttons) box.append(renderButtons(m));
  const meta = document.createElement("div");
  meta.className = "meta";
  const when = stamp(m.date);
  meta.textContent = (m.edited ? `${t("edited")} · ` : "") + when + " ";
  const reply = document.createElement("button");
  reply.type = "button";
  reply.className = "reply";
  reply.textContent = `↩ ${t("reply")}`;
  reply.onclick = () => { setReply(m); $("text").focus(); };
  meta.append(reply);
  box.append(meta);
  return box;
}

// A message's time; its day too when it is not the clock's day.
function stamp(seconds) {
  const locale = state.lang === "zh" ? "zh-CN" : "en-GB";
  const day = (d) => d.toLocaleDateString(locale, { timeZone: state.timezone, month: "short",
                                                    day: "numeric" });
  const when = new Date(seconds * 1000);
  const time = when.toLocaleTimeString(locale, { timeZone: state.timezone, hour: "2-digit",
                                                 minute: "2-digit" });
  return state.clock && day(when) !== day(state.clock) ? `${day(when)} ${time}` : time;
}

function renderButtons(m) {
  const kb = document.createElement("div");
  kb.className = "kb";
  for (const row of m.buttons) {
    const line = document.createElement("div");
    line.className = "row";
    for (const b of row) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = b.text + (b.url ? " ↗" : "");
      button.onclick = () => press(m, b);
      line.append(button);
    }
    kb.append(line);
  }
  return kb;
}

function renderPoll(m) {
  const box = document.createElement("div");
  box.className = "poll kb";
  const question = document.createElement("b");
  question.textContent = `📊 ${m.poll.question}` + (m.poll.closed ? ` (${t("closed")})` : "");
  box.append(question);
  m.poll.options.forEach((option, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `${option} · ${m.poll.votes[index]}`;
    button.disabled = m.poll.closed;
    button.onclick = () => post(`/api/chats/${state.chat}/vote`,
      { persona: state.persona, message_id: m.id, options: [index] });
    box.append(button);
  });
  return box;
}

async function press(m, b) {
  if (b.url) {
    const link = b.url.match(/^https:\/\/t\.me\/([A-Za-z0-9_]+)\?start=([A-Za-z0-9_-]*)$/);
    if (link && state.bot && link[1].toLowerCase() === state.bot.username.toLowerCase()) {
      const { chat_id } = await post("/api/start", { persona: state.persona, payload: link[2] });
      await openChat(chat_id);
    } else {
      window.open(b.url, "_blank", "noopener");
    }
    return;
  }
  const { answer } = await post(`/api/chats/${state.chat}/click`,
    { persona: state.persona, message_id: m.id, data: b.data });
  if (answer && answer.text) toast(answer.text, answer.show_alert);
}

// ---------------------------------------------------------------- composing

function setReply(message) {
  state.replyTo = message;
  $("replying").hidden = !message;
  if (message) {
    const plain = document.createElement("div");
    plain.innerHTML = message.html || "";
    $("replying-text").textContent =
      `${t("replying")} ${message.from}: ${(plain.textContent || "📎").slice(0, 60)}`;
  }
}

async function sendText(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim() || state.chat === null) return;
  await post(`/api/chats/${state.chat}/send`, { persona: state.persona, text,
                                               reply_to: state.replyTo ? state.replyTo.id : null });
  $("text").value = "";
  $("menu").hidden = true;
  setReply(null);
}

async function sendSamplePhoto() {
  await post(`/api/chats/${state.chat}/send`, { persona: state.persona, sample_photo: true,
    reply_to: state.replyTo ? state.replyTo.id : null });
  setReply(null);
}

async function sendFile() {
  const file = $("file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("persona", state.persona);
  form.append("file", file);
  if (state.replyTo) form.append("reply_to", state.replyTo.id);
  $("file").value = "";
  await api(`/api/chats/${state.chat}/upload`, { method: "POST", body: form });
  setReply(null);
}

async function sendLocation() {
  const answer = prompt(t("location_prompt"), "31.2304,121.4737");
  if (!answer) return;
  const [latitude, longitude] = answer.split(",").map(Number);
  await post(`/api/chats/${state.chat}/send`, { persona: state.persona,
    location: { latitude, longitude }, reply_to: state.replyTo ? state.replyTo.id : null });
  setReply(null);
}

function showMenu(filter) {
  const menu = $("menu");
  const shown = state.commands.filter((c) => `/${c.command}`.startsWith(filter || "/"));
  menu.replaceChildren(...shown.map((c) => {
    const line = document.createElement("div");
    const name = document.createElement("b");
    name.textContent = `/${c.command}`;
    line.append(name, document.createTextNode(c.description));
    line.onclick = () => { $("text").value = `/${c.command} `; menu.hidden = true; $("text").focus(); };
    return line;
  }));
  menu.hidden = shown.length === 0;
}

// ---------------------------------------------------------------- start

async function refresh() {
  if (state.busy++) return; // one refresh at a time; a change meanwhile asks again
  try {
    do {
      state.busy = 1;
      const status = await api("/api/state");
      showClock(status.clock);
      await loadChats();
      await loadMessages();
    } while (--state.busy > 0);
  } catch (error) {
    state.busy = 0;
  }
}

async function start() {
  const status = await api("/api/state");
  state.personas = status.personas;
  state.bot = status.bot;
  state.steps = status.steps;
  state.timezone = status.timezone;
  if (!state.personas.some((p) => p.id === state.persona)) state.persona = state.personas[0].id;
  translate();
  showClock(status.clock);
  $("persona").onchange = async (e) => {
    state.persona = e.target.value;
    localStorage.setItem("sandbox.persona", state.persona);
    state.chat = null;
    setReply(null);
    $("toast").hidden = true; // the last persona's answer is not this one's
    await refresh();
  };
  $("lang").onclick = () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("sandbox.lang", state.lang);
    translate();
    refresh();
  };
  $("composer").onsubmit = sendText;
  $("sample-photo").onclick = sendSamplePhoto;
  $("file").onchange = sendFile;
  $("location").onclick = sendLocation;
  $("reply-cancel").onclick = () => { state.dismissed = state.replyTo && state.replyTo.id; setReply(null); };
  $("menu-button").onclick = () => { const m = $("menu"); if (m.hidden) showMenu("/"); else m.hidden = true; };
  $("text").oninput = (e) => {
    const v = e.target.value;
    if (v.startsWith("/") && !v.includes(" ")) showMenu(v); else $("menu").hidden = true;
  };
  $("messages").onscroll = () => {
    const box = $("messages");
    state.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  };
  await refresh();
  const events = new EventSource("/api/events");
  events.addEventListener("change", () => refresh());
}

start();
