// Live consent statement: ask for a one-time challenge, show the full statement with its code,
// record camera and microphone with MediaRecorder, and send the recording with the challenge id to
// the statement API. The code is requested only when recording starts, so it cannot be prepared.
(function () {
  "use strict";
  var root = document.getElementById("live-statement");
  if (!root || !window.MediaRecorder || !navigator.mediaDevices) {
    if (root) {
      document.getElementById("statement-state").textContent =
        "This browser cannot record here; upload a file instead (verified by hand).";
      document.getElementById("statement-start").hidden = true;
    }
    return;
  }
  var start = document.getElementById("statement-start");
  var stop = document.getElementById("statement-stop");
  var state = document.getElementById("statement-state");
  var preview = document.getElementById("statement-preview");
  var code = document.getElementById("statement-code");
  var text = document.getElementById("statement-text");
  var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  var recorder = null;
  var chunks = [];
  var challenge = null;

  function fail(message) {
    state.textContent = message;
    start.hidden = false;
    start.disabled = false;
    stop.hidden = true;
  }

  // The statement is evidence: its voice is compared with the enrolled one and its words are
  // recognised, so the browser must not clean the sound (echo cancellation, noise suppression and
  // automatic gain change the voice), and it is kept at a good bitrate, not the low default.
  var CONSTRAINTS = {
    video: true,
    audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1}
  };
  var AUDIO_BITS_PER_SECOND = 128000;
  var VIDEO_BITS_PER_SECOND = 2500000;

  function recorderOptions() {
    var options = {audioBitsPerSecond: AUDIO_BITS_PER_SECOND, videoBitsPerSecond: VIDEO_BITS_PER_SECOND};
    if (mimeType()) { options.mimeType = mimeType(); }
    return options;
  }

  function mimeType() {
    var kinds = ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"];
    for (var i = 0; i < kinds.length; i++) {
      if (MediaRecorder.isTypeSupported(kinds[i])) { return kinds[i]; }
    }
    return "";
  }

  function send(blob) {
    var form = new FormData();
    var extension = blob.type.indexOf("mp4") >= 0 ? "mp4" : "webm";
    form.append("file", blob, "statement." + extension);
    form.append("capture", "live");
    form.append("challenge_id", challenge.id);
    form.append("challenge_phrase", challenge.phrase);
    state.textContent = "Sending your statement…";
    fetch(root.dataset.evidenceUrl, {
      method: "POST", body: form, credentials: "same-origin", headers: {"X-CSRFToken": csrf}
    }).then(function (response) {
      if (response.ok) { window.location.reload(); return null; }
      return response.json().then(function (body) { fail(body.message || "The statement was refused."); });
    }).catch(function () { fail("The statement could not be sent; check your connection and try again."); });
  }

  start.addEventListener("click", function () {
    start.disabled = true;
    state.textContent = "Starting the camera…";
    navigator.mediaDevices.getUserMedia(CONSTRAINTS).then(function (stream) {
      return fetch(root.dataset.challengeUrl, {
        method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": csrf}
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.message || "No code could be issued."); }
          return body;
        });
      }).then(function (issued) {
        challenge = issued;
        text.textContent = issued.statement_text;
        code.textContent = "Your one-time code: " + issued.phrase;
        code.hidden = false;
        preview.srcObject = stream;
        preview.hidden = false;
        preview.play();
        chunks = [];
        recorder = new MediaRecorder(stream, recorderOptions());
        recorder.ondataavailable = function (event) { if (event.data.size) { chunks.push(event.data); } };
        recorder.onstop = function () {
          stream.getTracks().forEach(function (track) { track.stop(); });
          send(new Blob(chunks, {type: recorder.mimeType || "video/webm"}));
        };
        recorder.start(1000);
        start.hidden = true;
        stop.hidden = false;
        state.textContent = "Recording: read the statement aloud, then press Stop and send.";
      }).catch(function (error) {
        stream.getTracks().forEach(function (track) { track.stop(); });
        fail(error.message);
      });
    }).catch(function () {
      fail("The camera and microphone could not be opened; allow them, or upload a file instead.");
    });
  });

  stop.addEventListener("click", function () {
    stop.hidden = true;
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
  });
})();
