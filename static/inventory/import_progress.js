// Live progress of a stock import job: polls the job's JSON endpoint until it finishes.
(function () {
  "use strict";
  const root = document.querySelector(".import-job[data-progress-url]");
  if (!root) return;
  const url = root.dataset.progressUrl;
  const field = (name) => root.querySelector('[data-field="' + name + '"]');
  const setText = (name, value) => { const el = field(name); if (el) el.textContent = value; };
  const statusLabel = { queued: "Queued", validating: "Validating", applying: "Applying", done: "Done", failed: "Failed", cancelled: "Cancelled" };

  function formatSeconds(s) {
    if (s === null || s === undefined) return "…";
    if (s < 60) return Math.round(s) + " s left";
    return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s left";
  }

  function render(p) {
    const bar = root.querySelector(".import-bar");
    bar.setAttribute("aria-valuenow", p.percent);
    root.querySelector(".import-bar-fill").style.width = p.percent + "%";
    setText("status", statusLabel[p.status] || p.status);
    setText("phase", p.phase);
    setText("rows", p.rows_done.toLocaleString() + (p.rows_estimated ? " / " + p.rows_estimated.toLocaleString() : ""));
    setText("rate", Math.round(p.rows_per_s).toLocaleString());
    setText("eta", p.finished ? "finished" : formatSeconds(p.seconds_left));
    if (!p.finished) return;
    const summary = root.querySelector(".import-summary");
    summary.hidden = false;
    setText("final-status", statusLabel[p.status] || p.status);
    setText("rows_total", p.rows_total === null ? 0 : p.rows_total);
    ["rows_applied", "rows_unchanged", "rows_skipped", "movements_written", "error_count"].forEach(function (k) { setText(k, p.result[k]); });
    setText("failure", p.failure || "");
    const link = field("errors-link");
    if (link) link.hidden = !p.result.error_count;
    const cancel = root.querySelector(".import-cancel");
    if (cancel) cancel.hidden = true;
    const table = root.querySelector(".import-errors");
    if (table && p.errors.length) {
      const body = table.querySelector("tbody");
      body.replaceChildren();
      p.errors.forEach(function (e) {
        const tr = document.createElement("tr");
        [e.line, e.column + (e.column_number ? " (" + e.column_number + ")" : ""), e.value, e.code, e.message].forEach(function (v) {
          const td = document.createElement("td");
          td.textContent = v === null || v === undefined ? "" : String(v);
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      table.hidden = false;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (p) { render(p); if (!p.finished) setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 3000); });
  }

  if (root.dataset.finished !== "1") poll();
})();
