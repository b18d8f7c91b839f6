// The page: ask over SSE, open each [n] in its article, manage the documents.
// Text from the service is only ever set as text (textContent, text nodes), never as HTML.
"use strict";

const KEY = "rag-news-api-key";
const history = [];  // earlier turns sent with a follow-up: {role, content}
const MAX_HISTORY = 198;  // the API takes 199 earlier messages; older turns are let go
let openedFrom = null;  // the [n] button whose source is open, to return focus to

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

// An API error body ({"error": {"code", "message"}}) as words for the reader.
async function problem(response) {
  let message = `the service answered ${response.status}`;
  try {
    const body = await response.json();
    if (body.error && body.error.message) message = body.error.message;
  } catch (_) { /* not JSON: keep the status */ }
  if (response.status === 401) message += " (enter the key under “API key”)";
  return message;
}

function say(message, kind = "error") {
  const status = $("status");
  status.textContent = message;
  status.className = kind;
  status.hidden = !message;
}

async function call(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: headers(options.headers) });
  } catch (_) {
    throw new Error("the service did not answer: is `rag serve` running?");
  }
  if (!response.ok) throw new Error(await problem(response));
  return response;
}

// Server-sent events from a fetch body: yields {event, data}; comments and blocks without
// data (a proxy's keep-alives) are passed over. Leaving early cancels the body.
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = (buffer + value).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data = [];  // an event's data lines, joined with newlines as the SSE spec says
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

// ---- asking ----

async function ask(question) {
  const answerBox = el("div", { className: "answer" });
  answerBox.dataset.state = "streaming";
  answerBox.dataset.tokens = "0";
  answerBox.setAttribute("aria-live", "polite");
  answerBox.setAttribute("aria-busy", "true");  // read out once whole, not at every token
  const turn = el("li", { className: "turn" }, el("p", { className: "question", textContent: question }),
                  answerBox);
  $("thread").append(turn);
  turn.scrollIntoView({ block: "end" });
  const body = { question, stream: true, history: history.slice(-MAX_HISTORY) };
  let answer = null, raw = "";
  try {
    const response = await call("/v1/ask", {
      method: "POST", body: JSON.stringify(body),
      headers: { "content-type": "application/json", accept: "text/event-stream" },
    });
    for await (const { event, data } of events(response)) {
      if (event === "token") {
        raw += data.text;
        answerBox.textContent = raw;
        answerBox.dataset.tokens = String(Number(answerBox.dataset.tokens) + 1);
      } else if (event === "done") {
        answer = data;
      } else if (event === "error") {
        throw new Error(data.error.message);
      }
    }
    if (!answer) throw new Error("the answer ended early");
  } catch (error) {
    answerBox.dataset.state = "error";
    answerBox.removeAttribute("aria-busy");
    answerBox.textContent = raw;
    turn.append(el("p", { className: "notice error", textContent: `Error: ${error.message}` }));
    return;
  }
  show(turn, answerBox, answer);
  history.push({ role: "user", content: question }, { role: "assistant", content: answer.answer });
}

// The finished answer: each [n] a button opening its source, the sources used listed.
function show(turn, answerBox, answer) {
  const cited = new Map(answer.citations.map((c) => [c.index, c]));
  answerBox.replaceChildren();
  for (const part of answer.answer.split(/(\[\d+\])/)) {
    const citation = cited.get(Number((part.match(/^\[(\d+)\]$/) || [])[1]));
    if (citation) {
      const button = el("button", { type: "button", className: "cite", textContent: part,
                                    title: `${citation.title} (${citation.source})` });
      button.addEventListener("click", () => openSource(citation, button));
      answerBox.append(button);
    } else {
      answerBox.append(document.createTextNode(part));
    }
  }
  answerBox.dataset.state = answer.refused ? "refused" : "done";
  answerBox.removeAttribute("aria-busy");
  if (answer.refused) {
    turn.append(el("p", { className: "notice refused", textContent:
      "The articles do not answer this: no passage says it, so nothing is claimed." }));
  }
  if (answer.citations.length) {
    const list = el("ol", { className: "sources" });
    for (const c of answer.citations) {
      const link = el("button", { type: "button", className: "source-link",
                                  textContent: `[${c.index}] ${c.title}` });
      link.addEventListener("click", () => openSource(c, link));
      list.append(el("li", {}, link, el("span", { className: "file", textContent: ` ${c.source}` }),
                     el("blockquote", { textContent: c.quote })));
    }
    turn.append(el("h3", { textContent: "Sources" }), list);
  }
}

// The cited article beside the answer, the quote highlighted and scrolled into view.
let opening = 0;  // the latest click wins when two articles load at once
async function openSource(citation, from) {
  const ticket = ++opening;
  const panel = $("source-panel");
  let document_;
  try {
    document_ = await (await call(`/v1/documents/${encodeURIComponent(citation.source)}/text`)).json();
  } catch (error) {
    if (ticket === opening) say(`Cannot open ${citation.source}: ${error.message}`);
    return;
  }
  if (ticket !== opening) return;
  openedFrom = from;
  $("source-title").textContent = document_.title;
  const meta = [document_.author, document_.date, document_.source].filter(Boolean);
  $("source-meta").textContent = meta.join(" · ");
  // Offsets count code points (Python's); JavaScript strings count UTF-16 units.
  const chars = Array.from(document_.text);
  let before = chars.slice(0, citation.start).join(""), after = chars.slice(citation.end).join("");
  let quote = chars.slice(citation.start, citation.end).join("");
  const warning = $("source-warning");
  warning.hidden = quote === citation.quote;
  if (quote !== citation.quote) {  // the article changed since: show the passage as answered
    warning.textContent = "This article has changed since the answer: shown is the passage it quoted.";
    [before, quote, after] = [citation.before, citation.quote, citation.after];
  }
  const mark = el("mark", { id: "quote", textContent: quote });
  $("source-text").replaceChildren(document.createTextNode(before), mark, document.createTextNode(after));
  panel.hidden = false;
  const box = $("source-text");
  if (box.scrollHeight > box.clientHeight) {  // beside the answer: scroll the article only
    box.scrollTop = mark.offsetTop - (box.clientHeight - mark.offsetHeight) / 2;
    panel.scrollIntoView({ block: "nearest" });
  } else {  // under the answer on a narrow screen: scroll the page
    mark.scrollIntoView({ block: "center" });
  }
  panel.focus({ preventScroll: true });
}

function closeSource() {
  $("source-panel").hidden = true;
  if (openedFrom) openedFrom.focus();
}

function newConversation() {
  history.length = 0;
  $("thread").replaceChildren();
  closeSource();
  say("");
  $("question").focus();
}

// ---- documents ----

async function listDocuments() {
  const rows = $("documents").tBodies[0];
  let documents;
  try {
    documents = await (await call("/v1/documents")).json();
  } catch (error) {
    say(`Cannot list the documents: ${error.message}`);
    return;
  }
  rows.replaceChildren(...documents.map((d) => {
    const remove = el("button", { type: "button", className: "delete", textContent: "Delete" });
    remove.setAttribute("aria-label", `Delete ${d.source}`);
    remove.addEventListener("click", () => deleteDocument(d.source));
    const row = el("tr", {}, el("td", { textContent: d.title }), el("td", { textContent: d.source }),
                   el("td", { textContent: String(d.chunks) }),
                   el("td", { textContent: d.ingested_at.replace("T", " ").slice(0, 19) }),
                   el("td", {}, remove));
    row.dataset.source = d.source;
    return row;
  }));
}

async function upload(event) {
  event.preventDefault();
  const files = $("upload-files").files;
  if (!files.length) {
    say("Choose one or more files first.");
    return;
  }
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  try {
    const results = await (await call("/v1/documents", { method: "POST", body: form })).json();
    say(results.map((r) => `${r.source}: ${r.status} (${r.chunks} chunks)`).join("; "), "ok");
    $("upload-form").reset();
  } catch (error) {
    say(`Upload refused: ${error.message}`);
  }
  await listDocuments();
}

async function deleteDocument(source) {
  if (!confirm(`Delete ${source}? It will no longer be searched or cited.`)) return;
  try {
    const result = await (await call(`/v1/documents/${encodeURIComponent(source)}`,
                                     { method: "DELETE" })).json();
    say(`Deleted ${result.source} (${result.chunks_removed} chunks).`, "ok");
  } catch (error) {
    say(`Cannot delete ${source}: ${error.message}`);
  }
  await listDocuments();
}

// ---- views and wiring ----

function showView(name) {
  const documents = name === "documents";
  $("ask-view").hidden = documents;
  $("documents-view").hidden = !documents;
  $("show-ask").setAttribute("aria-pressed", String(!documents));
  $("show-documents").setAttribute("aria-pressed", String(documents));
  if (documents) listDocuments();
}

document.addEventListener("DOMContentLoaded", () => {
  const key = $("api-key");
  key.value = sessionStorage.getItem(KEY) || "";
  key.addEventListener("input", () => {
    if (key.value) sessionStorage.setItem(KEY, key.value);
    else sessionStorage.removeItem(KEY);
  });
  $("ask-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question) return;
    $("question").value = "";
    $("ask-button").disabled = true;
    say("");
    try {
      await ask(question);
    } finally {
      $("ask-button").disabled = false;
      $("question").focus();
    }
  });
  $("new-conversation").addEventListener("click", newConversation);
  $("close-source").addEventListener("click", closeSource);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("source-panel").hidden) closeSource();
  });
  $("show-ask").addEventListener("click", () => showView("ask"));
  $("show-documents").addEventListener("click", () => showView("documents"));
  $("upload-form").addEventListener("submit", upload);
  $("question").focus();
});
