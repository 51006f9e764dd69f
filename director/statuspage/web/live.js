// Live updates: on each event the daemon pushes (server-sent events on
// /events), re-render the page's live part from /status?fragment=1. The
// page is complete without this script.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) { return; }
  var live = document.getElementById("live");
  var since = document.body.getAttribute("data-last-seq") || "";
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch("/status?fragment=1", { cache: "no-store" }).then(function (r) {
      return r.ok ? r.text() : Promise.reject(r.status);
    }).then(function (html) {
      live.innerHTML = html;
      var t = document.getElementById("rendered");
      if (t) { t.textContent = new Date().toISOString().substring(11, 23) + " UTC"; }
    }).catch(function () {}).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }
  var es = new EventSource("/events" + (since ? "?since=" + since : ""));
  es.onmessage = refresh;
  es.onopen = refresh;
})();
