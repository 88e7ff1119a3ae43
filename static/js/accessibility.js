/* Keyboard and screen-reader help shared by every page.
 *
 * A rejected form's error summary (includes/form_errors.html, or the admin's errornote)
 * takes focus when the page loads, so it is the first thing read out; a link in the
 * summary moves focus to its field (not only scrolls to it) with the field's label in view.
 */
(function () {
  "use strict";

  function focusSummary() {
    var summary = document.querySelector("[data-error-summary], .errornote");
    if (!summary) return;
    if (!summary.hasAttribute("tabindex")) summary.setAttribute("tabindex", "-1");
    summary.focus();
  }

  function followSummaryLinks(event) {
    var link = event.target.closest("[data-error-summary] a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    var label = document.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  }

  document.addEventListener("click", followSummaryLinks);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusSummary);
  } else {
    focusSummary();
  }
  // The admin's add forms focus their first field from an async script (change_form.js)
  // that may run after DOMContentLoaded; the page's load comes after every such script, so
  // the summary takes focus back then, unless the user has already started to type or click.
  var touched = false;
  function touch() { touched = true; }
  document.addEventListener("keydown", touch, true);
  document.addEventListener("pointerdown", touch, true);
  window.addEventListener("load", function () {
    if (!touched) focusSummary();
  });
})();
