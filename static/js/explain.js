/* The "?" explanations ({% explain %}, templates/includes/explain.html): <details> toggletips.
 * The browser opens and shuts them (click, tap, Enter, Space) with no script; this keeps an
 * open box inside the window, shuts it with Escape (focus back on its "?") or a click
 * elsewhere, and keeps one open at a time. */
(function () {
  "use strict";
  var MARGIN = 8;

  function place(details) {
    var box = details.querySelector(".explain-body");
    if (!box) return;
    box.style.marginLeft = "0px";
    var rect = box.getBoundingClientRect();
    var width = document.documentElement.clientWidth;
    var shift = 0;
    if (rect.right > width - MARGIN) shift = rect.right - (width - MARGIN);
    if (rect.left - shift < MARGIN) shift = rect.left - MARGIN;
    box.style.marginLeft = -shift + "px";
  }

  function shutAll(except) {
    document.querySelectorAll("details.explain[open]").forEach(function (details) {
      if (details !== except) details.open = false;
    });
  }

  // "toggle" does not bubble: listen while it goes down.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.classList.contains("explain")) return;
    if (details.open) {
      shutAll(details);
      place(details);
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.explain[open]");
    if (!open) return;
    open.open = false;
    open.querySelector("summary").focus();
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest("details.explain")) shutAll(null);
  });

  window.addEventListener("resize", function () {
    document.querySelectorAll("details.explain[open]").forEach(place);
  });
})();
