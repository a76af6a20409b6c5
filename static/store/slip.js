// The packing slip's Print button (no inline handler: the Content-Security-Policy allows scripts from this site only).
document.addEventListener("click", function (ev) {
  if (ev.target.closest("[data-print]")) { window.print(); }
});
