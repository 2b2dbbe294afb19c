// chatops web console: keeps a live page (body[data-live]) up to date
// without a reload. It listens to /ui/events (Server-Sent Events) and, on a
// change, fetches the page again and swaps its <main>; where the stream
// fails it polls instead. Without JavaScript, the page reloads itself
// (a <noscript> refresh).
(function () {
  "use strict";
  var body = document.body;
  if (!body || !body.hasAttribute("data-live")) { return; }
  var poll = parseInt(body.getAttribute("data-poll") || "5000", 10);
  var busy = false, again = false, timer = null;

  function status(text) {
    var el = document.getElementById("live");
    if (el) { el.textContent = text; }
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Console-Live": "1" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main"), old = document.querySelector("main");
        if (fresh && old) { old.replaceWith(fresh); }
      })
      .catch(function () { status("live: update failed, retrying"); })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function startPolling() {
    if (timer) { return; }
    status("live: polling every " + Math.round(poll / 1000) + "s");
    timer = setInterval(refresh, poll);
  }

  if (!window.EventSource) { startPolling(); return; }
  var failures = 0;
  var es = new EventSource("/ui/events");
  es.addEventListener("open", function () { failures = 0; status("live"); });
  es.addEventListener("change", function () { refresh(); });
  es.addEventListener("error", function () {
    failures++;
    // The browser reconnects by itself; after a few failures in a row
    // (the server is full, or a proxy buffers the stream) poll instead.
    if (failures >= 3 || es.readyState === EventSource.CLOSED) {
      es.close();
      startPolling();
    }
  });
})();
