// The forms of the log-in cards page (form[data-submit-once]) are sent once: a double click,
// or a second button pressed while the first answer is on its way, would issue cards whose
// sheet the browser never shows. The buttons are disabled only after the submit event, once
// the browser has taken the form's data, so the pressed button still sends its name.
(function () {
  "use strict";
  var RETRY_AFTER_MS = 15000; // an answer lost on the way: the buttons work again
  var busy = false;
  var timer = null;

  function setBusy(state) {
    busy = state;
    document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
      form.querySelectorAll("button, input[type=submit]").forEach(function (button) {
        button.disabled = state;
      });
      if (state) {
        form.setAttribute("aria-busy", "true");
      } else {
        form.removeAttribute("aria-busy");
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-submit-once")) {
      return;
    }
    if (busy) {
      event.preventDefault();
      return;
    }
    busy = true;
    window.setTimeout(function () {
      if (event.defaultPrevented) {
        busy = false;
        return;
      }
      setBusy(true);
      timer = window.setTimeout(function () {
        setBusy(false);
      }, RETRY_AFTER_MS);
    }, 0);
  });

  // A page brought back by the Back button (the back-forward cache) works again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      window.clearTimeout(timer);
      setBusy(false);
    }
  });
})();
