// Redaction boxes on the anonymization upload form. Without this script the form works as is: the
// user types each box's numbers into the rows. With it, the user can add rows, and draw a box over a
// still of the chosen video (played locally from the file, nothing is sent); the drawn box fills the
// next free row in fractions of the picture, from the moment shown to the end of the video.
(function () {
  "use strict";
  var root = document.getElementById("redactions");
  if (!root) return;
  var rows = document.getElementById("redaction-rows");
  var template = document.getElementById("redaction-row-template");
  var total = root.querySelector("input[name$='-TOTAL_FORMS']");
  var addButton = document.getElementById("redaction-add");
  var max = parseInt(root.getAttribute("data-max"), 10) || 8;
  var prefix = total.name.replace(/-TOTAL_FORMS$/, "");
  var NUMBERS = ["x", "y", "width", "height", "start", "end"];

  function field(row, name) {
    return row.querySelector("[name$='-" + name + "']");
  }
  function allRows() {
    return Array.prototype.slice.call(rows.querySelectorAll("[data-redaction-row]"));
  }
  function addRow() {
    var count = parseInt(total.value, 10) || 0;
    if (count >= max || !template) return null;
    var html = template.innerHTML.replace(/__prefix__/g, String(count)).replace(/__number__/g, String(count + 1));
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var row = holder.querySelector("[data-redaction-row]");
    rows.appendChild(row);
    total.value = String(count + 1);
    addButton.disabled = count + 1 >= max;
    return row;
  }
  function isBlank(row) {
    return ["x", "y", "width", "height"].every(function (name) {
      var input = field(row, name);
      return !input || input.value.trim() === "";
    });
  }

  addButton.hidden = false;
  addButton.disabled = (parseInt(total.value, 10) || 0) >= max;
  addButton.addEventListener("click", function () {
    var row = addRow();
    if (row) field(row, "x").focus();
  });

  // Drawing over a still of the chosen recording.
  var draw = document.getElementById("redaction-draw");
  var video = document.getElementById("redaction-video");
  var stage = document.getElementById("redaction-stage");
  var overlay = document.getElementById("redaction-overlay");
  var slider = document.getElementById("redaction-time");
  var timeLabel = document.getElementById("redaction-time-label");
  var file = document.querySelector("input[type=file][name=recording]");
  var help = document.getElementById("redaction-draw-help");
  if (!draw || !video || !file || !window.URL || !URL.createObjectURL) return;
  var url = null;

  function value(row, name) {
    var input = field(row, name);
    var number = input ? parseFloat(input.value) : NaN;
    return isNaN(number) ? null : number;
  }
  function showMarks() {
    overlay.textContent = "";
    var width = video.videoWidth, height = video.videoHeight;
    if (!width || !height) return;
    var now = video.currentTime;
    allRows().forEach(function (row, index) {
      var box = NUMBERS.map(function (name) { return value(row, name); });
      if (box[0] === null || box[1] === null || !box[2] || !box[3]) return;
      var start = box[4] || 0, end = box[5];
      if (now + 0.05 < start || (end !== null && now > end + 0.05)) return;
      var pixels = (field(row, "unit") || {}).value === "pixels";
      var sx = pixels ? 1 / width : 1, sy = pixels ? 1 / height : 1;
      var mark = document.createElement("div");
      mark.className = "redaction-mark";
      mark.style.left = box[0] * sx * 100 + "%";
      mark.style.top = box[1] * sy * 100 + "%";
      mark.style.width = box[2] * sx * 100 + "%";
      mark.style.height = box[3] * sy * 100 + "%";
      mark.textContent = String(index + 1);
      overlay.appendChild(mark);
    });
  }

  file.addEventListener("change", function () {
    if (url) URL.revokeObjectURL(url);
    url = null;
    draw.hidden = true;
    var chosen = file.files && file.files[0];
    if (!chosen || (chosen.type && chosen.type.indexOf("video/") !== 0)) return;
    url = URL.createObjectURL(chosen);
    video.src = url;
  });
  video.addEventListener("loadedmetadata", function () {
    slider.max = String(Math.max(0, Math.floor(video.duration * 10) / 10));
    slider.value = "0";
    draw.hidden = false;
    video.currentTime = 0;
  });
  video.addEventListener("error", function () { draw.hidden = true; });
  video.addEventListener("seeked", showMarks);
  slider.addEventListener("input", function () {
    var time = parseFloat(slider.value) || 0;
    timeLabel.textContent = time.toFixed(1) + " s";
    video.currentTime = time;
  });
  rows.addEventListener("input", showMarks);
  rows.addEventListener("change", showMarks);

  var origin = null, pending = null;
  function point(event) {
    var rect = video.getBoundingClientRect();
    return {
      x: Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width)),
      y: Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height)),
    };
  }
  function place(mark, a, b) {
    mark.style.left = Math.min(a.x, b.x) * 100 + "%";
    mark.style.top = Math.min(a.y, b.y) * 100 + "%";
    mark.style.width = Math.abs(a.x - b.x) * 100 + "%";
    mark.style.height = Math.abs(a.y - b.y) * 100 + "%";
  }
  stage.addEventListener("pointerdown", function (event) {
    if (!video.videoWidth) return;
    event.preventDefault();
    origin = point(event);
    pending = document.createElement("div");
    pending.className = "redaction-mark";
    overlay.appendChild(pending);
    place(pending, origin, origin);
    if (stage.setPointerCapture) stage.setPointerCapture(event.pointerId);
  });
  stage.addEventListener("pointermove", function (event) {
    if (origin && pending) place(pending, origin, point(event));
  });
  stage.addEventListener("pointerup", function (event) {
    if (!origin) return;
    var end = point(event), start = origin;
    origin = null;
    var x0 = Math.min(start.x, end.x), y0 = Math.min(start.y, end.y);
    var w = Math.abs(start.x - end.x), h = Math.abs(start.y - end.y);
    if (w < 0.01 || h < 0.01) { showMarks(); return; }
    var row = allRows().filter(isBlank)[0] || addRow();
    if (!row) {
      help.textContent = "At most " + max + " boxes; clear a row's numbers to draw it again.";
      showMarks();
      return;
    }
    var round = function (n) { return String(Math.round(n * 10000) / 10000); };
    field(row, "unit").value = "fraction";
    field(row, "x").value = round(x0);
    field(row, "y").value = round(y0);
    field(row, "width").value = round(Math.min(w, 1 - x0));
    field(row, "height").value = round(Math.min(h, 1 - y0));
    field(row, "start").value = String(Math.round(video.currentTime * 10) / 10);
    field(row, "end").value = "";
    showMarks();
  });
})();
