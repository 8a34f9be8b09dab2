// Live job progress: every element with data-ws subscribes to its job's websocket and updates
// the fields inside it. The server sends the current state first, then each change.
(function () {
  "use strict";
  function render(root, state) {
    var set = function (name, fn) { root.querySelectorAll('[data-field="' + name + '"]').forEach(fn); };
    set("progress", function (el) { el.value = state.percent; el.textContent = state.percent + "%"; });
    set("percent", function (el) { el.textContent = Math.round(state.percent) + "%"; });
    set("stage", function (el) { el.textContent = state.stage; });
    set("status", function (el) {
      el.textContent = state.status.charAt(0).toUpperCase() + state.status.slice(1);
      el.className = "status status-" + state.status;
    });
    set("eta", function (el) {
      // A job whose worker went silent shows how long ago it was last heard from, not a stale ETA.
      if (state.stalled) {
        el.textContent = "stalled: no sign of its worker for " + state.stalled_seconds +
          " s; it will be restarted or failed automatically";
      } else {
        el.textContent = state.status === "running" && state.eta_seconds ? "about " + state.eta_seconds + " s left" : "";
      }
      el.classList.toggle("job-stalled", !!state.stalled);
    });
    set("error", function (el) { el.textContent = state.error_message || ""; el.hidden = !state.error_message; });
  }
  function watch(root) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var finishedAtLoad = ["succeeded", "failed", "cancelled"].indexOf(
      (root.querySelector('[data-field="status"]') || {}).textContent.toLowerCase()) >= 0;
    if (finishedAtLoad) { return; }
    var socket = new WebSocket(scheme + window.location.host + root.dataset.ws);
    socket.onmessage = function (event) {
      var state = JSON.parse(event.data);
      render(root, state);
      if (state.finished) {
        socket.close();
        if (root.dataset.reloadOnFinish) { window.location.reload(); }
      }
    };
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-ws]").forEach(watch);
  });
})();
