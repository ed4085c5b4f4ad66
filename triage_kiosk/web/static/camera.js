// Face check-in: the browser's camera (getUserMedia), a burst of frames posted as JSON to the
// kiosk, which runs the liveness challenge and the identification. Retries with the new challenge
// the server gives; moves on to the page it names.
(function () {
  "use strict";
  const box = document.getElementById("camera");
  if (!box) return;
  const video = document.getElementById("preview");
  const status = document.getElementById("status");
  const challenge = document.getElementById("challenge");
  const button = document.getElementById("capture");
  const endpoint = box.dataset.endpoint;
  const nFrames = parseInt(box.dataset.frames, 10) || 16;
  const interval = parseInt(box.dataset.intervalMs, 10) || 160;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const canvas = document.createElement("canvas");
  let busy = false;

  function say(text) { status.textContent = text; }

  async function startCamera() {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      video.srcObject = stream;
      await video.play();
      box.dataset.ready = "1";
    } catch (err) {
      say(box.dataset.noCamera);
      button.disabled = true;
      box.dataset.ready = "error";
    }
  }

  function grab() {
    const w = video.videoWidth || 640, h = video.videoHeight || 480;
    canvas.width = w; canvas.height = h;
    canvas.getContext("2d").drawImage(video, 0, 0, w, h);
    return canvas.toDataURL("image/jpeg", 0.85);
  }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  async function attempt() {
    if (busy) return;
    busy = true; button.disabled = true;
    const frames = [], times = [];
    for (let i = 0; i < nFrames; i++) {
      frames.push(grab());
      times.push(Math.round(performance.now()));
      await sleep(interval);
    }
    say(box.dataset.working);
    let data = null;
    try {
      const resp = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ frames: frames, timestamps_ms: times }),
      });
      data = await resp.json();
      if (!resp.ok) {
        const err = data && data.error ? data.error : {};
        say(err.message || ("HTTP " + resp.status));
        if (err.next) { window.location.assign(err.next); return; }
        busy = false; button.disabled = false;
        return;
      }
    } catch (err) {
      say(String(err));
      busy = false; button.disabled = false;
      return;
    }
    box.dataset.lastStatus = data.status;
    say(data.message);
    if (data.next) { window.location.assign(data.next); return; }
    if (data.challenge) {
      challenge.textContent = data.challenge.prompt;
      challenge.dataset.code = data.challenge.code;
    }
    busy = false; button.disabled = false;
    if (data.retry && box.dataset.autoRetry === "1") { attempt(); }
  }

  button.addEventListener("click", function () { box.dataset.autoRetry = "1"; attempt(); });
  startCamera();
})();
