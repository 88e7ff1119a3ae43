// The "Print the cards" button on the printable log-in cards page (shown only with script).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-print]");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
