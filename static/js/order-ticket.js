/* Order tickets: the estimated total as the quantity changes, and the "max affordable" /
 * "sell all" helpers. Works on every form[data-order-ticket]:
 *   data-side        "buy", "sell" or "both" (the quote page's ticket)
 *   data-cash        cash available, e.g. "8108.80"
 *   data-commission-kind     the class's commission: "none", "flat" (data-commission-amount
 *                    dollars a trade), "per_share" (dollars a share) or "percent" (percent of
 *                    the order's value, at least data-commission-minimum dollars)
 *   data-max-quantity  the most shares one order may have
 *   data-price / data-held  for a ticket with a fixed symbol; otherwise they come from
 *                    the selected <option> of select[name=symbol].
 * Money is counted in whole cents with BigInt, so the estimate is exact: a price has two
 * decimals, so price × quantity needs no rounding, and the commission is rounded to the
 * cent half up, as classrooms.rules.Rulebook.commission rounds it. The server re-checks
 * everything.
 */
(function () {
  "use strict";

  var MINUS = "\u2212";

  // "12.5" → 1250n with places 2; null for anything else than a plain decimal.
  function toUnits(text, places) {
    var match = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(String(text == null ? "" : text));
    if (!match || (match[2] || "").length > places) return null;
    return BigInt(match[1]) * 10n ** BigInt(places) + BigInt((match[2] || "").padEnd(places, "0"));
  }

  function toCents(text) {
    return toUnits(text, 2);
  }

  function halfUp(numerator, denominator) {
    return (2n * numerator + denominator) / (2n * denominator);
  }

  // The commission on one order of `shares` worth `total` cents, in cents. The amount is
  // read in ten-thousandths (the rule's four decimals): dollars / 10^4 = cents / 100.
  function commissionRule(dataset) {
    var kind = dataset.commissionKind || "none";
    var amount = toUnits(dataset.commissionAmount, 4) || 0n;
    var minimum = toCents(dataset.commissionMinimum) || 0n;
    return function (shares, total) {
      if (kind === "flat") return halfUp(amount, 100n);
      if (kind === "per_share") return halfUp(amount * shares, 100n);
      if (kind === "percent") {
        var share = halfUp(total * amount, 1000000n);
        return share > minimum ? share : minimum;
      }
      return 0n;
    };
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
    var commissionFor = commissionRule(form.dataset);
    var flat = form.dataset.commissionKind === "flat" ? commissionFor(0n, 0n) : null;
    var maxQuantity = BigInt(form.dataset.maxQuantity || "1000000");
    var quantity = form.querySelector("input[name=quantity]");
    var picker = form.querySelector("select[name=symbol]");
    var estimate = form.querySelector("[data-estimate]");
    var commissionEstimate = form.querySelector("[data-commission-estimate]");
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

    function cost(price, shares) {
      var total = price * shares;
      return total + commissionFor(shares, total);
    }

    // The most shares whose cost, commission included, the cash covers: the cost grows
    // with the shares whatever the commission's kind, so a binary search finds it.
    function maxAffordable(price) {
      if (!price) return 0n;
      var low = 0n;
      var high = cash / price;
      if (high > maxQuantity) high = maxQuantity;
      while (low < high) {
        var middle = (low + high + 1n) / 2n;
        if (cost(price, middle) <= cash) low = middle;
        else high = middle - 1n;
      }
      return low;
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
        setText(commissionEstimate, flat == null ? "—" : formatCents(flat));
        setText(cashAfter, "—");
        warn(quantity.value.trim() && shares == null ? "Enter a whole number of shares." : "");
        return;
      }
      var total = state.price * shares;
      var commission = commissionFor(shares, total);
      setText(estimate, formatCents(total));
      setText(commissionEstimate, formatCents(commission));
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
