/* Order tickets: the estimated total as the quantity changes, and the "max affordable" /
 * "sell all" helpers. Works on every form[data-order-ticket]:
 *   data-side        "buy", "sell" or "both" (the quote page's ticket)
 *   data-cash        cash available, e.g. "8108.80"
 *   data-commission  commission per trade, e.g. "0.00"
 *   data-max-quantity  the most shares one order may have
 *   data-price / data-held  for a ticket with a fixed symbol; otherwise they come from
 *                    the selected <option> of select[name=symbol].
 * Money is counted in whole cents with BigInt, so the estimate is exact: a price has two
 * decimals, so price × quantity needs no rounding. The server re-checks everything.
 */
(function () {
  "use strict";

  var MINUS = "\u2212";

  function toCents(text) {
    var match = /^\s*(\d+)(?:\.(\d{1,2}))?\s*$/.exec(String(text == null ? "" : text));
    if (!match) return null;
    return BigInt(match[1]) * 100n + BigInt((match[2] || "").padEnd(2, "0"));
  }

  function formatCents(cents) {
    var negative = cents < 0n;
    if (negative) cents = -cents;
    var whole = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var fraction = (cents % 100n).toString().padStart(2, "0");
    return (negative ? MINUS : "") + "$" + whole + "." + fraction;
  }

  function wholeNumber(text) {
    return /^\s*\d+\s*$/.test(text) ? BigInt(text.trim()) : null;
  }

  function setText(element, text) {
    if (element) element.textContent = text;
  }

  function init(form) {
    var side = form.dataset.side;
    var cash = toCents(form.dataset.cash) || 0n;
    var commission = toCents(form.dataset.commission) || 0n;
    var maxQuantity = BigInt(form.dataset.maxQuantity || "1000000");
    var quantity = form.querySelector("input[name=quantity]");
    var picker = form.querySelector("select[name=symbol]");
    var estimate = form.querySelector("[data-estimate]");
    var cashAfter = form.querySelector("[data-cash-after]");
    var warning = form.querySelector("[data-estimate-warning]");
    var page = form.closest("main") || document;
    var priceDisplay = page.querySelector("[data-price-display]");
    var heldDisplay = page.querySelector("[data-held-display]");
    if (!quantity) return;

    function current() {
      var source = form.dataset;
      if (picker) {
        var option = picker.options[picker.selectedIndex];
        source = option && option.value ? option.dataset : {};
      }
      return {
        price: toCents(source.price),
        held: source.held != null && /^\d+$/.test(source.held) ? BigInt(source.held) : 0n,
      };
    }

    function maxAffordable(price) {
      if (!price || cash <= commission) return 0n;
      var most = (cash - commission) / price;
      return most > maxQuantity ? maxQuantity : most;
    }

    function warn(text) {
      if (!warning) return;
      warning.textContent = text;
      warning.hidden = !text;
    }

    function update() {
      var state = current();
      if (picker) {
        setText(priceDisplay, state.price == null ? "—" : formatCents(state.price));
        setText(heldDisplay, picker.value ? state.held.toLocaleString("en-US") : "—");
      }
      var shares = wholeNumber(quantity.value);
      if (state.price == null || shares == null || shares <= 0n) {
        setText(estimate, "—");
        setText(cashAfter, "—");
        warn(quantity.value.trim() && shares == null ? "Enter a whole number of shares." : "");
        return;
      }
      var total = state.price * shares;
      setText(estimate, formatCents(total));
      var message = "";
      if (side === "buy") {
        setText(cashAfter, formatCents(cash - total - commission));
        if (total + commission > cash) {
          message = "That is more than your cash: you can afford " +
            maxAffordable(state.price).toLocaleString("en-US") + " shares.";
        }
      } else if (side === "sell") {
        setText(cashAfter, formatCents(cash + total - commission));
        if (shares > state.held) {
          message = "You hold " + state.held.toLocaleString("en-US") + " shares.";
        } else if (commission > total) {
          message = "The proceeds would not cover the commission.";
        }
      }
      if (shares > maxQuantity) {
        message = "One order is at most " + maxQuantity.toLocaleString("en-US") + " shares.";
      }
      warn(message);
    }

    form.querySelectorAll("[data-fill]").forEach(function (button) {
      button.addEventListener("click", function () {
        var state = current();
        var value = button.dataset.fill === "all"
          ? (state.held > maxQuantity ? maxQuantity : state.held)
          : maxAffordable(state.price);
        quantity.value = value > 0n ? value.toString() : "";
        update();
        quantity.focus();
      });
    });
    quantity.addEventListener("input", update);
    if (picker) picker.addEventListener("change", update);
    update();
  }

  function start() {
    document.querySelectorAll("form[data-order-ticket]").forEach(function (form) {
      if (form.dataset.orderTicketReady) return;
      form.dataset.orderTicketReady = "1";
      init(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
