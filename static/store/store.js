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
