/* Live updates that can be paused and never move keyboard focus (WCAG 2.2.2, 2.4.3).
 *
 * A page's live part refreshes itself: the dashboard's [data-live] region through htmx
 * (hx-trigger="every Ns", hx-swap="outerHTML"), the quote page's price through
 * price-chart.js, which asks window.TradeSimLive.paused() before each refresh.
 * A [data-live-toggle] button pauses and resumes them; the choice is remembered in this
 * browser (localStorage). An htmx refresh that replaces the element holding focus puts
 * focus back on the same control in the new copy, so a keyboard user is never thrown back
 * to the top of the page.
 */
(function () {
  "use strict";

  var KEY = "tradesim.live-paused";

  function stored() {
    try { return window.localStorage.getItem(KEY) === "1"; } catch (e) { return false; }
  }

  function store(paused) {
    try {
      if (paused) window.localStorage.setItem(KEY, "1");
      else window.localStorage.removeItem(KEY);
    } catch (e) { /* private mode: the choice lasts for this page only */ }
  }

  var paused = stored();

  // The state line is a polite live region: it speaks when the student pauses or resumes,
  // never on a refresh.
  function render(toggled) {
    document.querySelectorAll("[data-live-toggle]").forEach(function (button) {
      button.hidden = false;
      button.textContent = paused ? "Resume live updates" : "Pause live updates";
      var state = document.getElementById(button.getAttribute("aria-describedby") || "");
      if (!state) return;
      if (paused) state.textContent = "Live updates are paused.";
      else if (toggled) state.textContent = "Live updates resumed.";
      else state.textContent = "";
    });
  }

  window.TradeSimLive = { paused: function () { return paused; } };

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-live-toggle]");
    if (!button) return;
    paused = !paused;
    store(paused);
    render(true);
  });

  // htmx: no request while paused.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (paused && event.target.closest("[data-live]")) event.preventDefault();
  });

  // htmx: keep focus on the same control across a swap of the live region.
  var restore = null;

  function keyOf(node) {
    if (node.id) return "#" + node.id;
    var row = node.closest("[data-symbol]");
    return [
      node.tagName,
      row ? row.getAttribute("data-symbol") : "",
      node.getAttribute("href") || "",
      // A control's own words; a region's (a scrolling table) would change with the prices.
      node.getAttribute("aria-label") || node.textContent.trim(),
    ].join("|");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var live = event.target.closest("[data-live]");
    var active = document.activeElement;
    restore = null;
    if (live && active && active !== document.body && live.contains(active)) {
      restore = {
        key: keyOf(active),
        scroll: Array.prototype.map.call(live.querySelectorAll(".table-responsive"), function (box) {
          return box.scrollLeft;
        }),
      };
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!restore) return;
    var live = document.querySelector("[data-live]");
    var wanted = restore;
    restore = null;
    if (!live) return;
    live.querySelectorAll(".table-responsive").forEach(function (box, i) {
      if (wanted.scroll[i]) box.scrollLeft = wanted.scroll[i];
    });
    var candidates = live.querySelectorAll("a, button, input, select, textarea, [tabindex]");
    for (var i = 0; i < candidates.length; i += 1) {
      if (keyOf(candidates[i]) === wanted.key) {
        candidates[i].focus({ preventScroll: true });
        return;
      }
    }
    live.setAttribute("tabindex", "-1");
    live.focus({ preventScroll: true });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { render(false); });
  } else {
    render(false);
  }
})();
