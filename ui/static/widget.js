/* ShopBot chat widget: add ONE tag to any page of the shop.
 *
 *   <script src="https://assistant.example/static/widget.js" data-shopbot-url="https://assistant.example"></script>
 *
 * It shows a chat bubble that talks to the server's OpenAI-compatible API (streamed), keeps the session token
 * the server issued (and the conversation's id) in localStorage so the conversation survives page loads, and
 * writes every reply and product with textContent only: nothing in a reply or product data is parsed or run.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__shopbotWidget) return;
  window.__shopbotWidget = true;
  var base = (script.getAttribute("data-shopbot-url") || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var TOKEN_KEY = "shopbot_session_token", ID_KEY = "shopbot_session_id";
  var POLL_MS = 5000;

  function stored(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; /* storage blocked: one per page */ }
  }
  // The server issues both on the first reply; until then there is no conversation to load.
  var session = { token: stored(TOKEN_KEY), id: stored(ID_KEY) };
  function remember(token, id) {
    if (!token || !id) return;
    if (id !== session.id) lastTurn = 0;  // the server started a new conversation (the old token expired)
    session = { token: token, id: id };
    try { localStorage.setItem(TOKEN_KEY, token); localStorage.setItem(ID_KEY, id); } catch (e) { /* page only */ }
  }
  var lastTurn = 0;
  var busy = false;

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = base + "/static/widget.css";
  document.head.appendChild(css);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var root = el("div", "shopbot-widget");
  var bubble = el("button", "shopbot-bubble", "Ask the shop");
  bubble.type = "button";
  bubble.setAttribute("aria-label", "Open the shop assistant");
  var panel = el("section", "shopbot-panel");
  panel.hidden = true;
  panel.setAttribute("aria-label", "Shop assistant");
  var header = el("header", "shopbot-header", "Shop assistant");
  var close = el("button", "shopbot-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close");
  header.appendChild(close);
  var log = el("div", "shopbot-log");
  log.setAttribute("role", "log");
  var form = el("form", "shopbot-form");
  var input = el("input", "shopbot-input");
  input.type = "text";
  input.placeholder = "Ask about a product or an order…";
  input.setAttribute("aria-label", "Your message");
  var send = el("button", "shopbot-send", "Send");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(bubble);
  document.body.appendChild(root);

  function scroll() { log.scrollTop = log.scrollHeight; }

  function addMessage(role, text) {
    var who = role === "user" ? "user" : role === "staff" ? "staff" : "assistant";
    var msg = el("div", "shopbot-msg shopbot-" + who);
    if (who === "staff") msg.appendChild(el("div", "shopbot-who", "A person from our team"));
    var body = el("div", "shopbot-text", text);
    msg.appendChild(body);
    log.appendChild(msg);
    scroll();
    return msg;
  }

  function addDetails(msg, citations, products) {
    (products || []).forEach(function (p) {
      var card = el("div", "shopbot-card");
      if (p.sponsored) card.appendChild(el("span", "shopbot-sponsored", "Sponsored"));
      card.appendChild(el("strong", null, p.name));
      var options = Object.keys(p.options || {}).map(function (k) { return k + ": " + p.options[k]; }).join(", ");
      card.appendChild(el("div", "shopbot-options", options));
      card.appendChild(el("div", "shopbot-price",
        "$" + Number(p.price).toFixed(2) + " · " + (p.available ? "In stock" : "Out of stock")));
      card.appendChild(el("div", "shopbot-reason", "Why: " + (p.reason || "")));
      msg.appendChild(card);
    });
    if (citations && citations.length) {
      var details = el("details", "shopbot-sources");
      details.appendChild(el("summary", null, "Sources (" + citations.length + ")"));
      var list = el("ul");
      citations.forEach(function (c) { list.appendChild(el("li", null, c.id + " — " + c.text)); });
      details.appendChild(list);
      msg.appendChild(details);
    }
    scroll();
  }

  function history() {
    if (!session.token || !session.id) return Promise.resolve();
    return fetch(base + "/v1/sessions/" + encodeURIComponent(session.id) + "/messages",
                 { headers: { "X-Session-Token": session.token } })
      .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
      .then(function (data) {
        data.messages.forEach(function (m) {
          if (m.turn_id <= lastTurn) return;
          lastTurn = m.turn_id;
          var node = addMessage(m.role, m.text);
          if (m.role === "assistant") addDetails(node, m.citations, m.products);
        });
      })
      .catch(function () { /* offline: the next poll tries again */ });
  }

  function ask(text) {
    busy = true;
    send.disabled = true;
    addMessage("user", text);
    var msg = addMessage("assistant", "…");
    var body = msg.querySelector(".shopbot-text");
    var shown = "";
    var headers = { "Content-Type": "application/json" };
    if (session.token) headers["X-Session-Token"] = session.token;
    fetch(base + "/v1/chat/completions", {
      method: "POST",
      headers: headers,
      body: JSON.stringify({ model: "shopbot", stream: true, messages: [{ role: "user", content: text }] })
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          body.textContent = (data.error && data.error.message) || ("The assistant could not answer (" + response.status + ").");
          msg.classList.add("shopbot-error");
        });
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (step) {
          if (step.done) return;
          buffer += decoder.decode(step.value, { stream: true });
          var events = buffer.split("\n\n");
          buffer = events.pop();
          events.forEach(function (event) {
            var line = event.replace(/^data: /, "");
            if (!line || line === "[DONE]") return;
            var data;
            try { data = JSON.parse(line); } catch (e) { return; }
            if (data.error) { body.textContent = data.error.message; return; }
            if (data.session_token) remember(data.session_token, data.session_id);
            var choice = data.choices && data.choices[0];
            if (choice && choice.delta && choice.delta.content) {
              shown += choice.delta.content;
              body.textContent = shown;
              scroll();
            }
            if (data.shopbot) {
              lastTurn = Math.max(lastTurn, data.shopbot.turn_id || 0);
              addDetails(msg, data.shopbot.citations, data.shopbot.products);
            }
          });
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      body.textContent = "The shop's assistant cannot be reached right now. Please try again.";
      msg.classList.add("shopbot-error");
    }).then(function () {
      busy = false;
      send.disabled = false;
      input.focus();
    });
  }

  var poller = null;
  function open() {
    panel.hidden = false;
    bubble.hidden = true;
    history();
    if (!poller) poller = setInterval(function () { if (!busy) history(); }, POLL_MS);
    input.focus();
  }
  bubble.addEventListener("click", open);
  close.addEventListener("click", function () {
    panel.hidden = true;
    bubble.hidden = false;
    clearInterval(poller);
    poller = null;
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    ask(text);
  });
})();
