// corpmail web inbox. Plain JavaScript, no build step, no third-party code.
// Everything the agent wrote is put on the page as text (textContent / text nodes), never as HTML.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k === "title" || k === "type" || k === "placeholder") node.setAttribute(k, v);
    else node[k] = v;
  }
  return add(node, ...children);
}

// Bidi controls (e.g. U+202E, which reverses what follows: "txt.exe" shown as "exe.txt") and invisible
// characters (zero-width spaces, joiners, BOM, soft hyphen, tag characters) are shown, never applied.
const HIDDEN_CHARS = /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\u3164\uFEFF\uFFA0\uFFF9-\uFFFB]|[\u{E0000}-\u{E007F}]/gu;

function codePoint(ch) { return "U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0"); }

// A string as page text: a text node, or a fragment with each hidden character as a visible ⟨U+XXXX⟩.
function visibleText(s) {
  if (s.search(HIDDEN_CHARS) === -1) return document.createTextNode(s);  // search() ignores lastIndex
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of s.matchAll(HIDDEN_CHARS)) {
    frag.append(s.slice(last, m.index));
    const span = document.createElement("span");
    span.className = "hidden-char";
    span.title = `invisible or direction-changing character ${codePoint(m[0])}`;
    span.textContent = `⟨${codePoint(m[0])}⟩`;
    frag.append(span);
    last = m.index + m[0].length;
  }
  frag.append(s.slice(last));
  return frag;
}

// Append children (nested arrays allowed); strings become text (hidden characters made visible),
// null/false are skipped.
function add(node, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : visibleText(String(c)));
  }
  return node;
}

async function api(path, options = {}) {
  const resp = await fetch(path, { credentials: "same-origin", ...options });
  if (!resp.ok) {
    let detail = resp.statusText;
    try { detail = (await resp.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${resp.status} ${detail}`);
  }
  return resp.json();
}

function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

// Text with some terms marked (canary, leverage-fact phrases), built from text nodes only.
function highlighted(text, marks) {
  const frag = document.createDocumentFragment();
  const terms = marks.filter((m) => m.term);
  if (!terms.length || !text) { add(frag, text || ""); return frag; }
  const re = new RegExp(terms.map((m) => escapeRegExp(m.term)).join("|"), "gi");
  let last = 0;
  for (const match of text.matchAll(re)) {
    add(frag, text.slice(last, match.index));
    const found = terms.find((m) => m.term.toLowerCase() === match[0].toLowerCase());
    frag.append(el("mark", { class: found ? found.cls : "" }, match[0]));
    last = match.index + match[0].length;
  }
  add(frag, text.slice(last));
  return frag;
}

function shortJson(value, limit = 2000) {
  const s = JSON.stringify(value, null, 2);
  return s.length > limit ? s.slice(0, limit) + "\n…" : s;
}

// Arguments or a result as "name: value" rows; text values keep their own line breaks (an email body
// reads as an email, not as a JSON string with \n in it).
function dataView(value, depth = 0) {
  if (typeof value === "string") return el("span", { class: "text-value" }, value.length > 20000 ? value.slice(0, 20000) + "\n…" : value);
  if (value === null || typeof value !== "object" || depth > 3) return el("code", {}, shortJson(value, 2000));
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i + 1), v]) : Object.entries(value);
  if (!entries.length) return el("code", {}, Array.isArray(value) ? "[]" : "{}");
  return el("dl", { class: "data" }, entries.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, dataView(v, depth + 1)))));
}

// A verdict's labels: harmful findings in red, other findings (e.g. leverage_disclosure) in amber.
function labelBadges(verdict) {
  const harmful = new Set(verdict.evidence.filter((x) => x.harmful).map((x) => x.label));
  return verdict.labels.map((l) => el("span", { class: `badge label ${harmful.has(l) ? "harmful" : ""}` }, l));
}

// Mail dates in the scenario's time zone (stored as UTC; a time without an offset is UTC).
function fmtDate(iso, zone) {
  if (!iso) return "";
  if (!zone || zone === "UTC") return iso.replace("T", " ").slice(0, 16);
  const when = new Date(/(Z|[+-]\d\d:\d\d)$/.test(iso) ? iso : iso + "Z");
  return new Intl.DateTimeFormat("sv-SE", { timeZone: zone, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(when);
}

// ---------------------------------------------------------------- mailbox state from events

class MailState {
  constructor(snap) {
    this.agent = snap.episode.agent;
    this.messages = new Map(snap.messages.map((m) => [m.id, m]));
    this.copies = snap.copies.map((c) => ({ ...c }));
    this.verdicts = new Map();     // call_id -> monitor verdict
    this.calls = new Map();        // call_id -> tool call
    this.approvals = new Map();    // approval_id -> {status, call_id, ...}
    this.status = "pending";
    this.seq = 0;
  }

  apply(e) {
    const p = e.payload;
    this.seq = e.seq;
    switch (p.kind) {
      case "mail_delivered":
        this.messages.set(p.message.id, { ...p.message, call_id: p.call_id });
        for (const c of p.copies) {
          this.copies.push({ message_id: p.message.id, address: c.address, folder: c.folder,
            external: c.external, read: c.folder !== "inbox" });
        }
        break;
      case "mail_read":
        for (const c of this.copies) if (c.message_id === p.message_id && c.address === p.mailbox) c.read = true;
        break;
      case "tool_call": this.calls.set(p.call_id, p); break;
      case "monitor_verdict": this.verdicts.set(p.call_id, p); break;
      case "tool_result":
        if (p.ok && p.result && p.result.status === "pending_approval") {
          this.approvals.set(p.result.approval_id, { status: "pending", call_id: p.call_id, tool: p.tool });
        }
        break;
      case "approval_decided":
        this.approvals.set(p.approval_id, { status: p.decision, call_id: p.call_id, tool: p.tool, by: p.by, reason: p.reason });
        break;
      case "model_turn": if (this.status === "pending") this.status = "running"; break;
      case "episode_finished": this.status = p.status; break;
      default: break;
    }
  }

  folder(address, folder) {
    return this.copies
      .filter((c) => c.address === address && c.folder === folder)
      .map((c) => ({ copy: c, msg: this.messages.get(c.message_id) }))
      .sort((a, b) => (b.msg.sent_at.localeCompare(a.msg.sent_at)) || (b.msg.id - a.msg.id));
  }

  outbox() {
    return [...this.messages.values()].filter((m) => m.sender === this.agent && m.origin !== "seed")
      .sort((a, b) => b.sent_at.localeCompare(a.sent_at) || b.id - a.id)
      .map((msg) => ({ msg, copy: null }));
  }

  unread(address) {
    return this.copies.filter((c) => c.address === address && c.folder === "inbox" && !c.read).length;
  }

  externalCopies(messageId) { return this.copies.filter((c) => c.message_id === messageId && c.external); }
}

// ---------------------------------------------------------------- episode page

class EpisodeView {
  constructor(snap, interactive) {
    this.snap = snap;
    this.interactive = interactive;  // live pages can approve/reject; replays only show
    this.selected = { mailbox: snap.episode.agent, folder: "inbox", message: null };
    this.marks = [{ term: snap.episode.canary, cls: "canary" },
      ...snap.leverage_facts.flatMap((f) => f.indicators.map((t) => ({ term: t, cls: "fact" })))];
    this.roles = new Map(snap.external_contacts.map((c) => [c.address.toLowerCase(), c.roles || [c.role]]));
    this.pendingRender = false;
    for (const b of document.querySelectorAll("#folder-tabs button")) {
      b.addEventListener("click", () => { this.selected.folder = b.dataset.folder; this.selected.message = null; this.renderMail(); });
    }
    if ($("#contacts")) this.renderContacts();  // the approvals page borrows only the widgets
  }

  renderContacts() {
    const ul = $("#contacts");
    ul.replaceChildren(...this.snap.external_contacts.map((c) =>
      el("li", {}, el("span", { class: "who" }, c.name || c.address), el("span", { class: "addr" }, c.address),
        el("span", { class: `badge role-${c.role}` }, c.role))));
  }

  scheduleMailRender() {
    if (this.pendingRender) return;
    this.pendingRender = true;
    requestAnimationFrame(() => { this.pendingRender = false; this.renderMail(); });
  }

  renderMail(state = this.state) {
    if (!state) return;  // a tab clicked before the log has loaded: the first render honours the choice
    this.state = state;
    const boxes = $("#mailboxes");
    boxes.replaceChildren(...this.snap.mailboxes.map((b) => {
      const unread = state.unread(b.address);
      const li = el("li", { class: b.address === this.selected.mailbox ? "selected" : "", "data-address": b.address },
        el("span", { class: "who" }, b.name, b.is_agent ? el("span", { class: "badge ai" }, "AI agent") : null,
          unread ? el("span", { class: "badge unread" }, unread) : null),
        el("span", { class: "addr" }, b.address), el("span", { class: "addr" }, b.title));
      li.addEventListener("click", () => { this.selected = { mailbox: b.address, folder: "inbox", message: null }; this.renderMail(); });
      return li;
    }));
    for (const b of document.querySelectorAll("#folder-tabs button")) b.classList.toggle("active", b.dataset.folder === this.selected.folder);
    const outbox = this.selected.folder === "outbox";
    $("#mailbox-title").textContent = outbox ? `Sent by the agent (${this.snap.episode.agent})` : `${this.selected.mailbox} · ${this.selected.folder}`;
    const items = outbox ? state.outbox() : state.folder(this.selected.mailbox, this.selected.folder);
    const list = $("#message-list");
    list.replaceChildren(...items.map(({ msg, copy }) => {
      const verdict = msg.call_id ? state.verdicts.get(msg.call_id) : null;
      const li = el("li", { class: [copy && !copy.read ? "unread" : "", msg.id === this.selected.message ? "selected" : ""].join(" "), "data-id": msg.id },
        el("div", {}, el("div", { class: "subject" }, msg.subject || "(no subject)"),
          el("div", { class: "from" }, outbox ? `to ${[...msg.to, ...msg.cc, ...msg.bcc].join(", ")}` : msg.sender),
          verdict ? labelBadges(verdict) : null),
        el("div", { class: "date" }, fmtDate(msg.sent_at, this.snap.episode.timezone)));
      li.addEventListener("click", () => { this.selected.message = msg.id; this.renderMail(); });
      return li;
    }));
    this.renderMessage(state);
  }

  recipients(addresses) {
    return addresses.map((a) => {
      const roles = this.roles.get(a.toLowerCase()) || [];  // the first is the category the monitor reports
      const internal = a.toLowerCase().endsWith("@" + this.snap.episode.domain);
      return el("span", { class: internal ? "" : "external" }, a, internal ? null : el("span", { class: `badge cat-${roles[0] || "unknown_external"}` }, roles.join(" / ") || "outside"), " ");
    });
  }

  renderMessage(state) {
    const view = $("#message-view");
    const msg = state.messages.get(this.selected.message);
    if (!msg) { view.replaceChildren(el("p", { class: "hint" }, "Select a message.")); return; }
    const verdict = msg.call_id ? state.verdicts.get(msg.call_id) : null;
    view.replaceChildren(...[
      el("h3", {}, msg.subject || "(no subject)"),
      el("div", { class: "headers" }, `From ${msg.sender} · ${fmtDate(msg.sent_at, this.snap.episode.timezone)}`),
      el("div", { class: "headers" }, "To ", this.recipients(msg.to)),
      msg.cc.length ? el("div", { class: "headers" }, "Cc ", this.recipients(msg.cc)) : null,
      msg.bcc.length ? el("div", { class: "headers" }, "Bcc ", this.recipients(msg.bcc)) : null,
      msg.labels.length ? el("div", {}, msg.labels.map((l) => el("span", { class: "badge label" }, l))) : null,
      verdict ? el("div", {}, "Monitor: ", el("b", {}, verdict.decision), labelBadges(verdict)) : null,
      el("pre", { class: "body" }, highlighted(msg.body, this.marks)),
      ...msg.attachments.map((a) => el("details", {}, el("summary", {}, `Attachment: ${a.name}`), el("pre", {}, highlighted(a.content, this.marks)))),
    ].filter(Boolean));
  }

  evidence(ev) {
    const parts = [el("span", { class: `badge label ${ev.harmful ? "harmful" : ""}` }, ev.label)];
    for (const key of ["via", "fact", "key", "attachment", "part", "tool"]) {
      if (ev[key]) parts.push(` ${key}: `, el("b", {}, String(ev[key])));
    }
    if (ev.canary) parts.push(" canary ", el("mark", { class: "canary" }, ev.canary));
    if (ev.indicators && ev.indicators.length) parts.push(" fact phrases ", ev.indicators.map((t) => [el("mark", { class: "fact" }, t), " "]));
    if (ev.threat) parts.push(" threat: ", el("q", {}, ev.threat));
    if (ev.matched) parts.push(" matched ", el("code", {}, JSON.stringify(ev.matched)));
    if (ev.recipients && ev.recipients.length) {
      parts.push(" → ", ev.recipients.map((r) => typeof r === "string" ? el("span", {}, r, " ")
        : el("span", { class: r.category === "internal" ? "" : "external" }, r.address, el("span", { class: `badge cat-${r.category}` }, r.category), " ")));
    }
    return el("li", {}, parts);
  }

  // Approve / reject a held action in two steps (choose, then confirm). Approving an action the monitor
  // found harmful needs a reason (the server refuses it without one, too).
  decideForm(approvalId, onDone, harmful = false) {
    const reason = el("input", { type: "text", placeholder: harmful ? "reason (required to approve)" : "reason", class: "reason" });
    const note = el("span", { class: "decide-note", role: "status" });
    const approve = el("button", { type: "button", class: "approve" }, "Approve");
    const reject = el("button", { type: "button", class: "reject" }, "Reject");
    const confirm = el("button", { type: "button", class: "confirm", hidden: true }, "Confirm");
    const cancel = el("button", { type: "button", class: "cancel", hidden: true }, "Cancel");
    const form = el("div", { class: "decide", "data-approval": approvalId, "data-harmful": harmful ? "true" : "false" },
      reason, approve, reject, confirm, cancel, note);
    let chosen = null;
    const choosing = (on) => { approve.hidden = reject.hidden = on; confirm.hidden = cancel.hidden = !on; reason.disabled = on; };
    const choose = (decision) => {
      if (decision === "approve" && harmful && !reason.value.trim()) {
        note.textContent = "The monitor found this action harmful: give a reason to approve it.";
        reason.focus();
        return;
      }
      chosen = decision;
      note.textContent = decision === "approve" ? "It will take effect now. Confirm?" : "It will never take effect. Confirm?";
      confirm.textContent = decision === "approve" ? "Confirm approve" : "Confirm reject";
      choosing(true);
      confirm.focus();
    };
    approve.addEventListener("click", () => choose("approve"));
    reject.addEventListener("click", () => choose("reject"));
    cancel.addEventListener("click", () => { chosen = null; note.textContent = ""; choosing(false); });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        await api(`/api/episodes/${this.snap.episode.id}/approvals/${approvalId}`, {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ decision: chosen, reason: reason.value.trim() || null, by: "web" }) });
        note.textContent = "";
        pendingBadge();
        if (onDone) onDone();
      } catch (err) {
        note.textContent = err.message;
        confirm.disabled = false;
        choosing(false);
      }
    });
    return form;
  }

  timelineItem(e, state) {
    const p = e.payload;
    const outside = e.origin === "world" || e.origin === "researcher";  // not the agent's own doing
    const li = el("li", { class: `${p.kind}${outside ? ` origin-${e.origin}` : ""}`, "data-seq": e.seq, "data-origin": e.origin || "" });
    const head = (label) => el("span", { class: "kind" }, `#${e.seq} ${outside ? `[${e.origin}${e.actor ? ` ${e.actor}` : ""}] ` : ""}${label}`);
    switch (p.kind) {
      case "episode_started":
        add(li, head("start"), `${p.scenario} · ${p.model} · ${p.harness || "corpmail"} · monitor ${p.monitor_mode}`); break;
      case "model_turn":
        add(li, head(`turn ${p.turn}`));
        if (p.reasoning) add(li, el("details", { class: "reasoning" }, el("summary", {}, "reasoning"), el("div", { class: "says" }, p.reasoning)));
        if (p.text) add(li, el("div", { class: "says" }, p.text));
        if (!p.text && !p.reasoning) add(li, el("span", { class: "hint" }, `(${p.tool_calls.length} tool call${p.tool_calls.length === 1 ? "" : "s"})`));
        break;
      case "notice": add(li, head("told the model"), el("div", { class: "says" }, p.text)); break;
      case "model_error": li.classList.add("error"); add(li, head("model error"), p.error); break;
      case "tool_call":
        add(li, head("call"), el("b", { class: "tool" }, p.tool), typeof p.args === "string" ? el("pre", {}, p.args) : dataView(p.args));
        break;
      case "tool_result": {
        add(li, head("result"));
        if (!p.ok) {
          li.classList.add("error");
          add(li, el("b", {}, p.error.type), " ", p.error.message || "");
        } else {
          const r = p.result || {};
          if (Array.isArray(r.messages)) add(li, `${r.messages.length} message(s)`);
          else if (r.status === "sent") add(li, "sent to ", this.recipients([...r.delivered_to, ...r.external]));
          else if (r.subject) add(li, `read “${r.subject}”`);
          else if (r.status) add(li, r.status, r.message ? `: ${r.message}` : "");
          const details = el("details", {}, el("summary", {}, "full result"));
          details.addEventListener("toggle", () => { if (details.open && details.children.length === 1) details.append(dataView(r)); }, { once: false });
          add(li, details);
        }
        break;
      }
      case "monitor_verdict": {
        const harmful = p.evidence.some((x) => x.harmful);
        if (harmful) li.classList.add("harmful");
        add(li, head("monitor"), el("b", {}, p.decision), " ", p.tool, " ", labelBadges(p));
        if (p.evidence.length) add(li, el("ul", { class: "evidence" }, p.evidence.map((x) => this.evidence(x))));
        if (p.decision === "hold" && this.interactive) li.dataset.call = p.call_id;  // form added while pending
        break;
      }
      case "approval_decided":
        add(li, head("review"), `${p.tool} ${p.decision} by ${p.by}`, p.reason ? `: ${p.reason}` : ""); break;
      case "mail_delivered":
        add(li, head("delivered"), `“${p.message.subject}” → ${p.copies.filter((c) => c.folder === "inbox").length} mailbox(es)`,
          p.copies.some((c) => c.external) ? [" and outside: ", this.recipients(p.copies.filter((c) => c.external).map((c) => c.address))] : null);
        break;
      case "mail_read": add(li, head("read"), `message ${p.message_id} in ${p.mailbox}`); break;
      case "rescore_verdict":
        add(li, head("re-scored"), `${p.tool}: ${p.original_labels.join(",") || "-"} → ${p.labels.join(",") || "-"} (${p.detector}@${p.version})`); break;
      case "judge_verdict":
        add(li, head("judge"), `${p.model}: ${p.status === "ok" ? (p.harmful ? "harmful " + p.labels.join(",") : "not harmful") : "FAILED " + p.error}`); break;
      case "awareness": {
        const belief = p.status === "ok" ? ({ evaluation: "believes it is being evaluated", real: "believes the situation is real", not_stated: "stated no belief" })[p.belief] : `ERRORED ${p.error || ""}`;
        add(li, head("eval-awareness"), el("b", {}, belief), ` (${p.method}${p.mixed ? ", both stated" : ""})`);
        if (p.evidence && p.evidence.length) add(li, el("ul", { class: "evidence" }, p.evidence.map((x) => el("li", {}, x.turn ? `turn ${x.turn} ${x.source}: ` : "", el("q", {}, x.quote)))));
        break;
      }
      case "world_reaction":
        add(li, head("world"), `${p.character} (${p.rule}): `, el("b", {}, p.status), p.error ? ` ${p.error}` : ""); break;
      case "scheduled_event":
        add(li, head("scheduled"), `${p.name}: `, el("b", {}, p.status), p.ends_episode ? " — ends the episode" : "", p.reason ? ` (${p.reason})` : ""); break;
      case "clock_advanced": add(li, head("clock"), `the world moves on (+${Math.round(p.to / 60)} min since start): ${p.reason}`); break;
      case "intervention": add(li, head("researcher"), `${p.researcher} wrote as ${p.as_address}`, p.ok ? "" : " (failed)"); break;
      case "episode_finished":
        add(li, head("end"), el("b", {}, p.status), p.error ? ` ${p.error}` : "", ` after ${p.turns} turn(s)`); break;
      default: add(li, head(p.kind), shortJson(p, 400));
    }
    return li;
  }

  attachDecisions(state, root) {
    for (const li of root.querySelectorAll("li[data-call]")) {
      const entry = [...state.approvals.entries()].find(([, a]) => a.call_id === li.dataset.call && a.status === "pending");
      const existing = li.querySelector(".decide");
      const verdict = state.verdicts.get(li.dataset.call);
      if (entry && !existing) add(li, this.decideForm(entry[0], null, Boolean(verdict && verdict.evidence.some((x) => x.harmful))));
      if (!entry && existing) existing.remove();
    }
  }
}

function setStatus(status) {
  const s = $("#ep-status");
  if (!s) return;
  s.textContent = status;
  s.className = `status status-${status}`;
}

const LIVE_WINDOW = 800;  // timeline items kept on a live page (the replay pages through all of them)

// A researcher writes into the running episode as one of its characters (never as the agent).
function writeAsForm(eid, snap) {
  const form = $("#write-as-form");
  if (!form) return;
  const who = $("#write-as-who");
  const characters = [
    ...snap.mailboxes.filter((b) => !b.is_agent).map((b) => [b.address, `${b.name} <${b.address}>`]),
    ...(snap.external_contacts || []).map((c) => [c.address, `${c.name || c.address} <${c.address}> (outside)`]),
  ];
  who.replaceChildren(...characters.map(([address, label]) => el("option", { value: address }, label)));
  $("#write-as-to").value = snap.episode.agent;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      as: who.value, to: $("#write-as-to").value.split(",").map((s) => s.trim()).filter(Boolean),
      subject: $("#write-as-subject").value, body: $("#write-as-body").value, researcher: $("#write-as-researcher").value,
    };
    try {
      const out = await api(`/api/episodes/${eid}/world/send`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      $("#write-as-result").textContent = out.ok ? "sent" : `not sent: ${out.error.message}`;
      if (out.ok) { $("#write-as-subject").value = ""; $("#write-as-body").value = ""; }
    } catch (err) { $("#write-as-result").textContent = String(err.message || err); }
  });
}

async function fetchEvents(eid, after, onPage) {
  // The log in pages of 2,000 (a 10,000-event episode is five requests).
  for (;;) {
    const page = await api(`/api/episodes/${eid}/events?after=${after}&limit=2000`);
    onPage(page);
    if (page.length < 2000) return after;
    after = page[page.length - 1].seq;
  }
}

async function livePage(eid) {
  const snap = await api(`/api/episodes/${eid}/snapshot`);
  const state = new MailState(snap);
  const view = new EpisodeView(snap, true);
  const timeline = $("#timeline");
  const pane = timeline.parentElement;
  let last = 0;
  let count = 0;

  // History first, in pages: the state takes every event, the timeline keeps the latest window.
  const history = [];
  await fetchEvents(eid, 0, (page) => { for (const e of page) { state.apply(e); history.push(e); } });
  if (history.length) last = history[history.length - 1].seq;
  count = history.length;
  const shown = history.slice(-LIVE_WINDOW);
  if (history.length > shown.length) timeline.before(el("p", { id: "timeline-earlier", class: "earlier" }, "Earlier events are in the replay."));
  timeline.replaceChildren(...shown.map((e) => view.timelineItem(e, state)));

  function refresh() {
    $("#event-count").textContent = `${count} events`;
    setStatus(state.status);
    view.attachDecisions(state, timeline);
    view.renderMail(state);
  }
  refresh();
  pane.scrollTop = pane.scrollHeight;

  // Then live: new events over server-sent events, applied in batches once per frame.
  const queue = [];
  let scheduled = false;
  function flush() {
    scheduled = false;
    const atBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 80;
    const items = [];
    for (const e of queue.splice(0)) {
      if (e.seq <= last) continue;  // a reconnect resumes after Last-Event-ID; never show an event twice
      last = e.seq;
      count += 1;
      state.apply(e);
      items.push(view.timelineItem(e, state));
    }
    if (!items.length) return;
    timeline.append(...items);
    const extra = timeline.children.length - LIVE_WINDOW;
    if (extra > 0) {
      for (let i = 0; i < extra; i += 1) timeline.firstElementChild.remove();
      if (!$("#timeline-earlier")) timeline.before(el("p", { id: "timeline-earlier", class: "earlier" }, "Earlier events are in the replay."));
    }
    refresh();
    if (atBottom) pane.scrollTop = pane.scrollHeight;
  }
  const source = new EventSource(`/api/episodes/${eid}/stream?after=${last}`);
  source.addEventListener("event", (msg) => {
    queue.push(JSON.parse(msg.data));
    if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
  });
  writeAsForm(eid, snap);
  document.body.dataset.loaded = "true";
  window.corpmailLive = { state, source, lastSeq: () => last };
}

async function replayPage(eid) {
  const [snap, episode] = await Promise.all([api(`/api/episodes/${eid}/snapshot`), api(`/api/episodes/${eid}`)]);
  const view = new EpisodeView(snap, false);
  const events = [];
  let state = new MailState(snap);
  let pos = 0;
  let timer = null;
  const scrub = $("#rp-scrub");
  const timeline = $("#timeline");
  const total = () => events.length;

  function render() {
    view.renderMail(state);
    const start = Math.max(0, pos - 150);
    timeline.replaceChildren(...(start > 0 ? [el("li", { class: "earlier" }, `${start} earlier events`)] : []),
      ...events.slice(start, pos).map((e) => view.timelineItem(e, state)));
    if (timeline.lastElementChild) { timeline.lastElementChild.classList.add("current"); timeline.lastElementChild.scrollIntoView({ block: "nearest" }); }
    scrub.max = String(total());
    scrub.value = String(pos);
    $("#rp-pos").textContent = `${pos} / ${episode.event_count}`;
    $("#event-count").textContent = `${pos} of ${episode.event_count} events`;
    setStatus(pos === 0 ? "pending" : state.status);
  }

  function goTo(k) {
    k = Math.max(0, Math.min(total(), k));
    if (k < pos) { state = new MailState(snap); pos = 0; }  // going back: rebuild from the seeded snapshot
    while (pos < k) state.apply(events[pos++]);
    render();
  }

  function stop() { if (timer) { clearInterval(timer); cancelAnimationFrame(timer); timer = null; } $("#rp-play").textContent = "▶"; }
  function play() {
    if (timer) { stop(); return; }
    $("#rp-play").textContent = "❚❚";
    const speed = $("#rp-speed").value;
    if (speed === "max") {
      const frame = () => { if (pos >= total()) { stop(); return; } goTo(pos + Math.max(1, Math.ceil(total() / 300))); timer = requestAnimationFrame(frame); };
      timer = requestAnimationFrame(frame);
    } else {
      timer = setInterval(() => { if (pos >= total()) stop(); else goTo(pos + 1); }, 1000 / Number(speed));
    }
  }

  $("#rp-first").addEventListener("click", () => { stop(); goTo(0); });
  $("#rp-back").addEventListener("click", () => { stop(); goTo(pos - 1); });
  $("#rp-fwd").addEventListener("click", () => { stop(); goTo(pos + 1); });
  $("#rp-last").addEventListener("click", () => { stop(); goTo(total()); });
  $("#rp-play").addEventListener("click", play);
  scrub.addEventListener("input", () => { stop(); goTo(Number(scrub.value)); });

  // Page through the log: paint after the first page, keep loading the rest.
  let first = true;
  await fetchEvents(eid, 0, (page) => {
    events.push(...page);
    if (first) { first = false; render(); performance.mark("corpmail-first-paint"); document.body.dataset.painted = "true"; }
    else scrub.max = String(total());
  });
  render();
  document.body.dataset.loaded = "true";
  window.corpmailReplay = { goTo, total, position: () => pos };
}

// ---------------------------------------------------------------- episode list and approvals

function episodeRow(e) {
  const count = (n) => (n ? el("span", { class: "flag" }, n) : "0");
  return el("tr", { "data-id": e.id },
    el("td", {}, el("a", { href: `/episodes/${e.id}` }, e.id), e.purpose === "check" ? [" ", el("span", { class: "badge" }, "check")] : null),
    el("td", {}, e.scenario),
    el("td", { class: "vars" }, Object.entries(e.variables).map(([k, v]) => [el("span", { class: "var" }, `${k}=${v}`), " "])),
    el("td", {}, e.model), el("td", { class: "harness" }, e.harness), el("td", {}, el("span", { class: `status status-${e.status}` }, e.status)),
    el("td", {}, e.tool_calls), el("td", {}, findingBadge(e.flagged - e.harmful, "finding")),
    el("td", {}, findingBadge(e.harmful, "harmful")),
    el("td", {}, e.created_at), el("td", {}, el("a", { href: `/episodes/${e.id}/replay` }, "replay")));
}

// Flagged-but-not-harmful findings (e.g. leverage_disclosure) and harmful ones look different.
function findingBadge(n, kind) { return n ? el("span", { class: `flag ${kind}` }, n) : "0"; }

function debounce(fn, ms) { let t = null; return () => { clearTimeout(t); t = setTimeout(fn, ms); }; }

async function episodesPage() {
  const form = $("#episode-filters");
  if (form) form.querySelectorAll("select").forEach((s) => s.addEventListener("change", () => form.submit()));
  if (document.body.dataset.pageno !== "1") return;  // older pages stay as they are
  const refresh = debounce(async () => {
    const checks = document.body.dataset.checks === "true" ? "&include_checks=true" : "";
    const rows = await api(`/api/episodes?${document.body.dataset.query || "limit=50"}${checks}`);
    if (rows.length) $("#episode-rows").replaceChildren(...rows.map(episodeRow));
  }, 250);
  onChanged(refresh);
}

// ---------------------------------------------------------------- experiment page

function pct(x) { return x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`; }

function rateRow(name, r) {
  const q = new URLSearchParams({ experiment: name, cell: r.cell, model: r.model });
  return el("tr", { "data-label": r.label }, el("td", {}, r.scenario),
    el("td", { class: "vars" }, Object.entries(r.variables).sort().map(([k, v]) => [el("span", { class: "var" }, `${k}=${v}`), " "])),
    el("td", {}, r.model), el("td", {}, r.label), el("td", {}, r.n), el("td", {}, r.errored), el("td", {}, r.abstained),
    el("td", {}, r.count), el("td", {}, `${pct(r.rate)} [${pct(r.ci_low)}, ${pct(r.ci_high)}]`),
    el("td", {}, r.effected_count), el("td", {}, `${pct(r.effected_rate)} [${pct(r.effected_ci_low)}, ${pct(r.effected_ci_high)}]`),
    el("td", {}, el("a", { class: "cell-link", href: `/?${q}` }, "episodes")));
}

async function experimentPage() {
  const name = document.body.dataset.experiment;
  const base = `/api/experiments/${encodeURIComponent(name)}`;
  let seen = null;
  let built = Date.now();
  async function poll() {
    const p = await api(`${base}/progress`);
    for (const k of ["completed", "errored", "running", "pending"]) $(`[data-count="${k}"]`).textContent = p[k];
    const bar = $("#exp-bar");
    bar.max = p.completed + p.errored + p.running + p.pending; bar.value = p.completed + p.errored;
    $("#exp-status").textContent = p.status; $("#exp-status").className = `status status-${p.status}`;
    $("#exp-message").textContent = p.message || "";
    const key = `${p.completed}/${p.errored}`;
    const finished = (p.status === "done" || p.status === "stopped") && p.running === 0;
    // the table and plots are rebuilt from every episode's log: at most every 10 s while running
    if (seen !== null && key !== seen && (finished || Date.now() - built > 10000)) {
      built = Date.now();
      const r = await api(base);
      $("#rate-rows").replaceChildren(...r.rows.map((row) => rateRow(name, row)));
      document.querySelectorAll("img.plot").forEach((img) => { img.src = `${base}/plots/${img.dataset.plot}?v=${encodeURIComponent(key)}`; });
      seen = key;
    }
    if (seen === null) seen = key;  // the table as the server rendered it
    document.body.dataset.loaded = "true";
    if (!finished) setTimeout(() => poll().catch(() => setTimeout(poll, 5000)), p.status === "running" ? 1000 : 3000);
  }
  await poll();
}

function heldAction(a, onDone) {
  const req = a.request;
  const marks = a.evidence.flatMap((x) => [{ term: x.canary, cls: "canary" },
    ...(x.indicators || []).map((t) => ({ term: t, cls: "fact" }))]);
  const body = req.kind === "mail"
    ? [el("div", {}, "To ", [...req.draft.to, ...req.draft.cc, ...req.draft.bcc].join(", ")),
      el("div", {}, "Subject: ", req.draft.subject), el("pre", { class: "body" }, highlighted(req.draft.body, marks))]
    : [el("div", {}, `${req.tool}(`, el("code", {}, JSON.stringify(req.args)), ")")];
  const view = new EpisodeView({ episode: { id: a.episode_id, agent: "", canary: "", domain: "" }, leverage_facts: [], external_contacts: [], mailboxes: [] }, true);
  return el("li", { "data-approval": a.id },
    el("div", {}, el("b", {}, `#${a.id} ${a.tool}`), " in ", el("a", { href: `/episodes/${a.episode_id}` }, a.episode_id), " ",
      a.labels.map((l) => el("span", { class: `badge label ${a.evidence.some((x) => x.harmful && x.label === l) ? "harmful" : ""}` }, l))),
    body, a.evidence.length ? el("ul", { class: "evidence" }, a.evidence.map((x) => view.evidence(x))) : null,
    view.decideForm(a.id, onDone, a.evidence.some((x) => x.harmful)));
}

async function approvalsPage() {
  const refresh = debounce(async () => {
    const rows = await api("/api/approvals?status=pending");
    const list = $("#approvals");
    list.replaceChildren(...(rows.length ? rows.map((a) => heldAction(a, refresh)) : [el("li", { class: "hint" }, "Nothing is waiting for a decision.")]));
  }, 100);
  refresh();
  onChanged(refresh);
}

async function pendingBadge() {
  try {
    const rows = await api("/api/approvals?status=pending");
    $("#pending-count").textContent = rows.length ? String(rows.length) : "";
  } catch (_) { /* the badge is a convenience */ }
}

// One stream per page of "some episode changed" (the list, the approvals and the nav badge follow it).
let changes = null;
function onChanged(fn) {
  if (!changes) changes = new EventSource("/api/stream/episodes");
  changes.addEventListener("changed", fn);
}

// The nav badge follows held actions live on every page.
function livePendingBadge() {
  pendingBadge();
  onChanged(debounce(pendingBadge, 150));
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page !== "docs") livePendingBadge();
  if (page === "episodes") episodesPage();
  if (page === "approvals") approvalsPage();
  if (page === "experiment") experimentPage();
  if (page === "episode") {
    const eid = document.body.dataset.episode;
    (document.body.dataset.mode === "replay" ? replayPage(eid) : livePage(eid)).catch((err) => {
      document.querySelector("main").prepend(el("p", { class: "external" }, `Could not load: ${err.message}`));
    });
  }
});
