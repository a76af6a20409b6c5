/* Omni store app: the scan field keeps the focus, sounds for right / wrong / new work (Web Audio,
   no files), and a spoken-word region for screen readers. htmx does the partial updates. */
(function () {
  "use strict";
  let audio = null;
  function tone(freqs, ms) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      let t = audio.currentTime;
      freqs.forEach(function (f) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = f < 300 ? "square" : "sine";
        osc.frequency.value = f;
        gain.gain.setValueAtTime(0.2, t);
        gain.gain.exponentialRampToValueAtTime(0.001, t + ms / 1000);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(t); osc.stop(t + ms / 1000);
        t += ms / 1000;
      });
    } catch (e) { /* no audio: the visible cue is enough */ }
  }
  const SOUNDS = { ok: function () { tone([880], 120); }, error: function () { tone([220, 160], 220); },
                   "new": function () { tone([660, 880, 990], 140); } };
  window.omniSound = function (name) { (SOUNDS[name] || function () {})(); document.body.dataset.lastSound = name; };

  function focusScan() {
    const field = document.querySelector("[data-scan]");
    if (field && document.activeElement !== field && !document.querySelector("dialog[open], .menu[open]")) {
      field.focus(); field.select && field.select();
    }
  }
  function playFrom(root) {
    const el = root && root.querySelector ? (root.matches && root.matches("[data-sound]") ? root : root.querySelector("[data-sound]")) : null;
    if (el) { window.omniSound(el.dataset.sound); }
  }
  document.addEventListener("DOMContentLoaded", function () { focusScan(); playFrom(document.querySelector("main")); });
  document.addEventListener("htmx:afterSwap", function (ev) { playFrom(ev.detail.target); focusScan(); });
  document.addEventListener("htmx:afterSettle", function (ev) {
    const say = ev.detail.target.querySelector && ev.detail.target.querySelector("[data-say]");
    if (say) { document.getElementById("live").textContent = say.dataset.say; }
  });
})();

/* The queue polls itself (htmx "every Ns"): rows that were not there before flash, a banner says
   how many arrived, and a chime plays. */
(function () {
  "use strict";
  function ids(root) {
    return new Set(Array.from(root.querySelectorAll("[data-work-id]")).map(function (el) { return el.dataset.workId; }));
  }
  let known = null;
  document.addEventListener("DOMContentLoaded", function () {
    const q = document.querySelector("[data-queue]");
    if (q) { known = ids(q); }
  });
  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (ev.detail.target.matches && ev.detail.target.matches("[data-queue]")) {
      const kept = new Set();
      ev.detail.target.querySelectorAll("input[name=w]:checked").forEach(function (el) { kept.add(el.value); });
      ev.detail.target.dataset.ticked = Array.from(kept).join(",");
    }
  });
  document.addEventListener("htmx:afterSwap", function (ev) {
    const q = ev.detail.target;
    if (!q.matches || !q.matches("[data-queue]")) { return; }
    (q.dataset.ticked || "").split(",").forEach(function (id) {
      const box = id && q.querySelector("input[name=w][value='" + id + "']");
      if (box) { box.checked = true; }
    });
    const now = ids(q), fresh = [];
    now.forEach(function (id) { if (known && !known.has(id)) { fresh.push(id); } });
    known = now;
    if (fresh.length) {
      fresh.forEach(function (id) { const row = q.querySelector("[data-work-id='" + id + "']"); if (row) { row.classList.add("is-new"); } });
      const banner = document.getElementById("new-work");
      banner.textContent = banner.dataset[fresh.length === 1 ? "one" : "many"].replace("%n", fresh.length);
      banner.hidden = false;
      window.omniSound("new");
      document.getElementById("live").textContent = banner.textContent;
    }
  });
})();

/* Counting sheet: a scanned barcode (or SKU) adds one to its line; an item not on the count is refused. */
(function () {
  "use strict";
  document.addEventListener("keydown", function (ev) {
    const field = ev.target;
    if (ev.key !== "Enter" || !field.matches || !field.matches("[data-count-scan]")) { return; }
    ev.preventDefault();
    const code = field.value.trim();
    field.value = "";
    if (!code) { return; }
    const sheet = field.closest("[data-count-sheet]");
    const input = Array.from(sheet.querySelectorAll(".count-input")).find(function (el) {
      return el.dataset.barcode === code || el.dataset.sku.toLowerCase() === code.toLowerCase();
    });
    const wrong = sheet.querySelector("[data-count-wrong]");
    if (!input) { wrong.hidden = false; window.omniSound("error"); return; }
    wrong.hidden = true;
    input.value = String((parseInt(input.value, 10) || 0) + 1);
    input.closest(".line").classList.add("is-done");
    window.omniSound("ok");
  });
})();
