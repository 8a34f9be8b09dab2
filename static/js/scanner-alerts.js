// Live scanner alerts: joins the clinic's alert socket and lists each alert as it arrives.
(function () {
  "use strict";
  const box = document.querySelector("[data-alerts-ws]");
  if (!box) return;
  const list = box.querySelector("[data-field=alerts]");
  let delay = 1000;

  function show(alert) {
    const empty = list.querySelector("[data-empty]");
    if (empty) empty.remove();
    const item = document.createElement("li");
    item.className = "alert";
    const link = document.createElement("a");
    link.href = alert.url;
    link.textContent = alert.headline + " — " + alert.file;
    item.appendChild(link);
    list.prepend(item);
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + box.dataset.alertsWs);
    socket.onopen = function () { delay = 1000; box.dataset.connected = "1"; };
    socket.onmessage = function (event) {
      const message = JSON.parse(event.data);
      if (message.type === "alert") show(message);
    };
    socket.onclose = function (event) {
      delete box.dataset.connected;
      if (event.code === 4401 || event.code === 4403) return;  // not allowed: do not retry
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
