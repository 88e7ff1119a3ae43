/* A Copy button beside a read-only field (the API tokens page's new token):
 * <button data-copy="FIELD-ID" hidden>. The button shows only where this script runs;
 * without it the field can still be selected and copied by hand. What happened is said
 * in the field's status line (aria-describedby), which screen readers announce. */
(function () {
  "use strict";

  function say(field, text) {
    var status = document.getElementById(field.getAttribute("aria-describedby") || "");
    if (status) status.textContent = text;
  }

  function copyBySelection(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function copy(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    var done = function () { say(field, "Copied. Paste it into your program now."); };
    var failed = function () {
      if (copyBySelection(field)) {
        done();
      } else {
        say(field, "Could not copy: the token is selected, copy it with Ctrl+C (⌘C on a Mac).");
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, failed);
    } else {
      failed();
    }
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });
})();
