// The chat page. Every text from the server (the customer's own words included) is shown with
// textContent, never as HTML: a message is data, not markup.
"use strict";
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const stateLabel = document.getElementById("state");
  const notice = document.getElementById("notice");
  const shown = new Map(); // item id -> element: a repeated item is shown once
  let position = "";
  let maxChars = 500;
  let stream = null;

  // The token in the address was needed once, to open the session; keep it out of screenshots.
  if (location.search) {
    history.replaceState(null, "", location.pathname);
  }

  function newId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function say(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  function render(item) {
    let row = shown.get(item.id);
    if (!row) {
      row = document.createElement("div");
      const bubble = document.createElement("div");
      bubble.className = "bubble";
      row.appendChild(bubble);
      shown.set(item.id, row);
      log.appendChild(row);
    }
    row.className = "msg " + (item.role === "customer" ? "customer" : "shop") +
      (item.pending ? " pending" : "") + (item.failed ? " failed" : "");
    row.dataset.id = item.id;
    row.dataset.role = item.role;
    row.firstChild.textContent = item.text;
    log.scrollTop = log.scrollHeight;
  }

  function resetTo(items) {
    shown.clear();
    log.replaceChildren();
    items.forEach(render);
  }

  function connect() {
    if (stream) stream.close();
    stream = new EventSource("/api/events?after=" + encodeURIComponent(position));
    stream.onopen = () => { stateLabel.textContent = "在线"; };
    stream.onmessage = (ev) => {
      position = ev.lastEventId || position;
      render(JSON.parse(ev.data));
    };
    stream.addEventListener("reset", (ev) => {
      position = ev.lastEventId || position;
      resetTo(JSON.parse(ev.data).items);
    });
    stream.onerror = () => { stateLabel.textContent = "重新连接中…"; };
  }

  async function load() {
    const resp = await fetch("/api/history", { credentials: "same-origin" });
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({}));
      say(body.error || "暂时无法连接，请稍后刷新页面。");
      sendButton.disabled = true;
      return;
    }
    const data = await resp.json();
    document.getElementById("shop").textContent = data.shop;
    document.title = data.shop + " · 在线客服";
    maxChars = data.max_chars || maxChars;
    position = data.position;
    resetTo(data.items);
    connect();
  }

  async function post(item, attempt) {
    try {
      const resp = await fetch("/api/messages", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ id: item.cid, text: item.text }),
      });
      const body = await resp.json().catch(() => ({}));
      if (resp.ok) {
        render(body.item); // same id: the pending bubble becomes the stored one
        say("");
        return;
      }
      item.failed = true;
      render(item);
      say(body.error || "发送失败，请重试。");
    } catch (err) {
      if (attempt < 3) { // the same id again: the shop sees it once however often it is sent
        setTimeout(() => post(item, attempt + 1), 1000 * (attempt + 1));
        return;
      }
      item.failed = true;
      render(item);
      say("网络不稳定，消息未发出。");
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (text.length > maxChars) {
      say("消息太长了（最多 " + maxChars + " 字）。");
      return;
    }
    const cid = newId();
    const item = { id: "c:" + cid, cid: cid, role: "customer", text: text, pending: true };
    render(item);
    input.value = "";
    post(item, 0);
  });

  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });

  load().catch(() => say("暂时无法连接，请稍后刷新页面。"));
})();
