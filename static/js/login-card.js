// A log-in card's QR code opens /accounts/card/#CODE. The code travels after the "#",
// which the browser never sends to the server (nor in a Referer): here it is taken off
// the address, so it does not stay in the history, put in the field, and sent.
(function () {
  "use strict";
  var form = document.querySelector("form[data-login-card]");
  var code = window.location.hash.slice(1);
  if (!form || !code) {
    return;
  }
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  try {
    code = decodeURIComponent(code);
  } catch (error) {
    return;
  }
  var field = form.querySelector("[name=code]");
  if (!field) {
    return;
  }
  field.value = code;
  // Someone already logged in (a link from a classmate, say) is asked first, with the
  // button: a link alone never swaps whose account this browser is in.
  if (form.hasAttribute("data-logged-in")) {
    field.focus();
    return;
  }
  form.requestSubmit ? form.requestSubmit() : form.submit();
})();
