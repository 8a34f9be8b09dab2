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

// Character counters: a textarea with data-max-chars shows how much of its limit is used, as one
// types, and is marked when over (the server refuses it then, with the same number).
(function () {
  "use strict";
  function counter(area) {
    var limit = parseInt(area.dataset.maxChars, 10);
    var note = document.createElement("p");
    note.className = "help char-count";
    note.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", note);
    function update() {
      var used = area.value.length;
      note.textContent = used.toLocaleString("en") + " of " + limit.toLocaleString("en") + " characters" +
        (used > limit ? ": " + (used - limit).toLocaleString("en") + " too many" : "");
      note.classList.toggle("field-error", used > limit);
    }
    area.addEventListener("input", update);
    update();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-max-chars]").forEach(counter);
  });
})();

// Script form: topic, audience, language and channel offer only what the chosen presenter's
// consent allows. The server renders the lists for the presenter shown first and checks every
// save; this swaps the lists when another presenter is picked.
(function () {
  "use strict";
  var FIELDS = ["topic", "audience", "language", "channel"];
  function setup(form) {
    var data = document.getElementById(form.dataset.useOptions);
    var presenter = form.querySelector('select[name="enrollment"]');
    if (!data || !presenter) { return; }
    var options = JSON.parse(data.textContent);
    presenter.addEventListener("change", function () {
      var scope = options[presenter.value];
      FIELDS.forEach(function (name) {
        var select = form.querySelector('select[name="' + name + '"]');
        if (!select) { return; }
        var previous = select.value;
        select.replaceChildren();
        (scope ? scope[name] : []).forEach(function (pair) {
          var option = document.createElement("option");
          option.value = pair[0];
          option.textContent = pair[1];
          option.selected = pair[0] === previous;
          select.appendChild(option);
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-use-options]").forEach(setup);
  });
})();
