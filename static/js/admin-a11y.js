/* Names for the console widgets Django's admin leaves unnamed, and keyboard access to the
 * parts of a page that scroll sideways (docs/accessibility.md), applied to the admin's own
 * widgets (SelectFilter, the select2 autocomplete) as they are built.
 */
(function () {
  "use strict";

  var counter = 0;

  function idFor(node, prefix) {
    if (!node.id) node.id = prefix + "-" + (counter += 1);
    return node.id;
  }

  function fieldLabel(node) {
    var row = node.closest(".form-row, .fieldBox, .form-group");
    return row ? row.querySelector("label") : null;
  }

  // A split date/time field: "Date:" and "Time:" are plain text before each input.
  function labelSplitDateTimes() {
    document.querySelectorAll("p.datetime").forEach(function (p) {
      var main = fieldLabel(p);
      Array.prototype.slice.call(p.childNodes).forEach(function (node) {
        if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) return;
        var input = node.nextElementSibling;
        while (input && input.tagName !== "INPUT") input = input.nextElementSibling;
        if (!input || !input.id) return;
        var label = document.createElement("label");
        label.htmlFor = input.id;
        label.textContent = node.textContent.trim();
        label.className = "datetime-part";
        p.replaceChild(label, node);
        p.insertBefore(document.createTextNode(" "), label.nextSibling);
        if (main) input.setAttribute("aria-labelledby", idFor(main, "field-label") + " " + idFor(label, "part-label"));
      });
    });
  }

  // SelectFilter's search icons carry aria-label without a role.
  function fixSelectFilterIcons() {
    document.querySelectorAll(".search-label-icon[aria-label]").forEach(function (icon) {
      icon.setAttribute("role", "img");
    });
  }

  // The select2 autocomplete (autocomplete_fields) names neither its combobox nor its box.
  function nameAutocompletes() {
    document.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
      var label = document.querySelector("label[for='" + select.id + "']");
      var container = select.nextElementSibling;
      if (!label || !container) return;
      var labelId = idFor(label, "field-label");
      container.querySelectorAll(".select2-selection[role='combobox'], .select2-selection__rendered[role='textbox']")
        .forEach(function (node) { node.setAttribute("aria-labelledby", labelId); });
    });
  }

  // A region that scrolls sideways (an inline's table on a phone) can be reached and
  // scrolled with the keyboard.
  function focusableScrollers() {
    document.querySelectorAll(".inline-group, #changelist .results, .module table").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        if (!box.getAttribute("role")) box.setAttribute("role", "region");
        var heading = box.querySelector("h2, caption");
        if (heading) box.setAttribute("aria-labelledby", idFor(heading, "region-heading"));
        else box.setAttribute("aria-label", "Table");
      }
    });
  }

  function fixAll() {
    labelSplitDateTimes();
    fixSelectFilterIcons();
    nameAutocompletes();
    focusableScrollers();
  }

  // The admin builds its widgets on DOMContentLoaded, jQuery's ready (which may come after
  // the window's load) and when an inline row is added: fix whatever appears.
  var pending = false;
  function soon() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; fixAll(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    fixAll();
    new MutationObserver(soon).observe(document.body, { childList: true, subtree: true });
  });
  window.addEventListener("load", soon);
  window.addEventListener("resize", focusableScrollers);
})();
