/* Order tickets: the fields each order type needs, the order in plain words, the estimated
 * total as the quantity changes, and the "max affordable" / "sell all" helpers. Works on
 * every form[data-order-ticket]:
 *   data-side        "buy", "sell", "sell_short", "buy_to_cover" or "both" (the quote page's
 *                    ticket, whose select[name=side] says which)
 *   data-cash        cash available (not held for orders), e.g. "8108.80"; below zero in a
 *                    class with margin, on a loan: "-5000.00"
 *   data-buying-power, data-initial-margin  in a class with margin only: what a new buy may
 *                    cost (classrooms.rules.buying_power) and the initial margin in percent;
 *                    a buy is then within reach when the cash pays for it or, as the margin
 *                    rule (classrooms.rules.check_margin) counts it, when its cost and
 *                    commission ÷ the initial margin fit in the buying power
 *   data-commission-kind     the class's commission: "none", "flat" (data-commission-amount
 *                    dollars a trade), "per_share" (dollars a share) or "percent" (percent of
 *                    the order's value, at least data-commission-minimum dollars)
 *   data-max-quantity  the most shares one order may have
 *   data-price / data-held / data-symbol  for a ticket with a fixed symbol; otherwise they
 *                    come from the selected <option> of select[name=symbol] (data-held: the
 *                    shares free to sell, or of a short position to cover;
 *                    data-held-for-orders: those open orders hold; data-short: the
 *                    position is short)
 *   data-type-fields JSON: order type → the inputs it uses (trading.forms.TYPE_FIELDS)
 *   data-stop-cushion, data-gtc-days, data-max-price, data-max-trail-percent: the service's
 *                    STOP_HOLD_CUSHION, GTC_DAYS, the highest price and trail it takes.
 * Without this script every field shows, with a hint saying which types use it; with it,
 * only the chosen type's fields show, and the others are disabled, so they are not sent.
 * The preview writes trading.services.describe_order's words (a browser test compares the
 * two). Money is counted in whole cents with BigInt, so the estimate is exact: a price has
 * two decimals, so price × quantity needs no rounding, and the commission is rounded to the
 * cent half up, as classrooms.rules.Rulebook.commission rounds it. The server re-checks
 * everything.
 */
(function () {
  "use strict";

  var MINUS = "\u2212";
  // As the service reads them (trading.services._MONEY_TEXT, _PERCENT_TEXT): the digits
  // 0–9, commas only between thousands.
  var MONEY_TEXT = /^([+-]?)[ \t]*\$?[ \t]*((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)$/;
  var PERCENT_TEXT = /^([+-]?)[ \t]*(\d+(?:\.\d*)?|\.\d+)[ \t]*%?$/;

  // "12.5" → 1250n with places 2; null for anything else than a plain decimal.
  function toUnits(text, places) {
    var match = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(String(text == null ? "" : text));
    if (!match || (match[2] || "").length > places) return null;
    return BigInt(match[1]) * 10n ** BigInt(places) + BigInt((match[2] || "").padEnd(places, "0"));
  }

  function toCents(text) {
    return toUnits(text, 2);
  }

  // toCents, below zero too: "-5000.00" → -500000n.
  function toSignedCents(text) {
    var match = /^\s*(-?)(.*)$/.exec(String(text == null ? "" : text));
    var cents = toCents(match[2]);
    return cents != null && match[1] ? -cents : cents;
  }

  // A typed number, in units of 10^-places: null if it is not one, or has more places
  // (other than trailing zeros); negative numbers are read, for the caller to refuse.
  function typed(text, pattern, places) {
    var match = pattern.exec(String(text || "").trim());
    if (!match) return null;
    var parts = match[2].replace(/,/g, "").split(".");
    var fraction = (parts[1] || "").replace(/0+$/, "");
    if (fraction.length > places) return null;
    var units = BigInt(parts[0] || "0") * 10n ** BigInt(places) +
      BigInt(fraction.padEnd(places, "0") || "0");
    return match[1] === "-" ? -units : units;
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

  function withCommas(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function formatCents(cents) {
    var negative = cents < 0n;
    if (negative) cents = -cents;
    var whole = withCommas((cents / 100n).toString());
    var fraction = (cents % 100n).toString().padStart(2, "0");
    return (negative ? MINUS : "") + "$" + whole + "." + fraction;
  }

  // Hundredths of a percent, as Python writes Decimal.normalize(): 750n → "7.5", 1000n → "10".
  function formatPercent(hundredths) {
    var whole = (hundredths / 100n).toString();
    var fraction = (hundredths % 100n).toString().padStart(2, "0").replace(/0+$/, "");
    return fraction ? whole + "." + fraction : whole;
  }

  function wholeNumber(text) {
    return /^\s*\d+\s*$/.test(text) ? BigInt(text.trim()) : null;
  }

  function setText(element, text) {
    if (element) element.textContent = text;
  }

  function show(elements, visible) {
    elements.forEach(function (element) {
      element.hidden = !visible;
    });
  }

  // trading.models.OrderSide: each side's words, and the sides that buy.
  var SIDE_LABELS = {buy: "Buy", sell: "Sell", sell_short: "Sell short", buy_to_cover: "Buy to cover"};

  function buys(side) {
    return side === "buy" || side === "buy_to_cover";
  }

  // trading.services.describe_order, word for word.
  function describe(order, gtcDays, waitsForOpen) {
    var buying = buys(order.side);
    var head = SIDE_LABELS[order.side] + " " + withCommas(order.quantity.toString()) + " " +
      order.symbol;
    if (order.type === "market") {
      return head + (waitsForOpen
        ? " at the first price after the market opens; good for that day"
        : " now, at the market price");
    }
    var what;
    if (order.type === "limit") {
      what = head + " if the price " + (buying ? "falls to " : "rises to ") +
        formatCents(order.limit) + (buying ? " or less" : " or more");
    } else if (order.type === "stop") {
      what = head + " at the market price once it " + (buying ? "rises to " : "falls to ") +
        formatCents(order.stop);
    } else if (order.type === "stop_limit") {
      what = head + " once the price " + (buying ? "rises to " : "falls to ") +
        formatCents(order.stop) + ", for " + (buying ? "at most " : "at least ") +
        formatCents(order.limit) + " a share";
    } else {
      var trail = order.trailPercent != null
        ? formatPercent(order.trailPercent) + " %"
        : formatCents(order.trailAmount);
      what = head + " at the market price once it " + (buying
        ? "rises " + trail + " above its lowest point"
        : "falls " + trail + " below its highest point");
    }
    var lasts = order.duration === "gtc"
      ? "good until cancelled (up to " + gtcDays + " trading days)"
      : "good for today";
    return what + "; " + lasts;
  }

  function init(form) {
    var fixedSide = form.dataset.side;
    // The market is closed and the class's market orders wait for the open.
    var waitsForOpen = form.querySelector("[data-closed-note][data-waits]") !== null;
    var cash = toSignedCents(form.dataset.cash) || 0n;
    // In a class with margin: the buying power in cents and the initial margin in
    // hundredths of a percent (50 → 5000n); null in a class without.
    var power = form.dataset.buyingPower != null ? toSignedCents(form.dataset.buyingPower) : null;
    var initialMargin = toUnits(form.dataset.initialMargin, 2);
    if (power == null || !initialMargin) power = null;
    var commissionFor = commissionRule(form.dataset);
    var flat = form.dataset.commissionKind === "flat" ? commissionFor(0n, 0n) : null;
    var maxQuantity = BigInt(form.dataset.maxQuantity || "1000000");
    var maxPrice = toCents(form.dataset.maxPrice) || 100000000000n;
    var maxTrail = toUnits(form.dataset.maxTrailPercent, 2) || 5000n;
    var cushion = toUnits(form.dataset.stopCushion, 4) || 0n;  // 0.05 → 500n
    var gtcDays = form.dataset.gtcDays || "90";
    var typeFields = JSON.parse(form.dataset.typeFields || "{}");
    var quantity = form.querySelector("input[name=quantity]");
    var picker = form.querySelector("select[name=symbol]");
    var sidePicker = form.querySelector("select[name=side]");
    var typePicker = form.querySelector("select[name=type]");
    var inputs = {
      limit: form.querySelector("input[name=limit_price]"),
      stop: form.querySelector("input[name=stop_price]"),
      trailPercent: form.querySelector("input[name=trail_percent]"),
      trailAmount: form.querySelector("input[name=trail_amount]"),
    };
    var duration = form.querySelector("select[name=duration]");
    var estimate = form.querySelector("[data-estimate]");
    var estimateAt = form.querySelector("[data-estimate-at]");
    var commissionEstimate = form.querySelector("[data-commission-estimate]");
    var holdRows = form.querySelectorAll("[data-hold-row]");
    var holdEstimate = form.querySelector("[data-hold-estimate]");
    var cashAfter = form.querySelector("[data-cash-after]");
    var warning = form.querySelector("[data-estimate-warning]");
    var previewBox = form.querySelector("[data-order-preview-box]");
    var preview = form.querySelector("[data-order-preview]");
    var submit = form.querySelector("[data-submit]");
    var marketNotes = form.querySelectorAll("[data-market-note]");
    var trailToggle = form.querySelector("[data-trail-toggle]");
    var page = form.closest("main") || document;
    var priceDisplay = page.querySelector("[data-price-display]");
    var heldDisplay = page.querySelector("[data-held-display]");
    var heldForOrdersDisplay = page.querySelector("[data-held-for-orders-display]");
    if (!quantity) return;

    // The trail is given in percent or in dollars: the one whose box has a value, else
    // percent.
    var trailUnit = inputs.trailAmount && inputs.trailAmount.value.trim() &&
      !(inputs.trailPercent && inputs.trailPercent.value.trim()) ? "amount" : "percent";

    function side() {
      var chosen = sidePicker ? sidePicker.value : fixedSide;
      return Object.prototype.hasOwnProperty.call(SIDE_LABELS, chosen) ? chosen : "buy";
    }

    function orderType() {
      var value = typePicker ? typePicker.value : "market";
      return Object.prototype.hasOwnProperty.call(typeFields, value) ? value : "market";
    }

    function current() {
      var source = form.dataset;
      if (picker) {
        var option = picker.options[picker.selectedIndex];
        source = option && option.value ? option.dataset : {};
      }
      var held = source.held != null && /^\d+$/.test(source.held) ? BigInt(source.held) : 0n;
      var onHold = /^\d+$/.test(source.heldForOrders || "") ? BigInt(source.heldForOrders) : 0n;
      return {
        symbol: picker ? picker.value : (form.dataset.symbol || ""),
        price: toCents(source.price),
        held: held,
        heldForOrders: onHold,
        short: source.short === "1",
      };
    }

    // The inputs the chosen type uses show; the others hide and are not sent.
    function arrangeFields() {
      var kind = orderType();
      var needed = typeFields[kind] || [];
      form.querySelectorAll("[data-order-field]").forEach(function (box) {
        var name = box.dataset.orderField;
        var used = name === "trail"
          ? needed.indexOf("trail_percent") >= 0
          : needed.indexOf(name) >= 0;
        box.hidden = !used;
        box.querySelectorAll("input, select").forEach(function (input) {
          input.disabled = !used;
        });
      });
      form.querySelectorAll("[data-field-uses]").forEach(function (uses) {
        uses.hidden = true;  // only the chosen type's fields show
      });
      form.querySelectorAll("[data-type-hint]").forEach(function (hint) {
        hint.hidden = hint.dataset.typeHint !== kind;
      });
      form.querySelectorAll("[data-trail-field]").forEach(function (box) {
        var used = needed.indexOf("trail_percent") >= 0 && box.dataset.trailField === trailUnit;
        box.hidden = !used;
        box.querySelectorAll("input").forEach(function (input) {
          input.disabled = !used;
        });
      });
      if (trailToggle) {
        trailToggle.querySelectorAll("[data-trail-unit]").forEach(function (button) {
          var chosen = button.dataset.trailUnit === trailUnit;
          button.setAttribute("aria-pressed", chosen ? "true" : "false");
          button.classList.toggle("active", chosen);
        });
      }
      show(marketNotes, kind === "market");
    }

    // The order as typed, or what is missing: {order} or {missing: "a limit price"}.
    function readOrder(state, shares) {
      var kind = orderType();
      var order = {
        side: side(),
        type: kind,
        symbol: state.symbol.toUpperCase(),
        quantity: shares,
        duration: duration && duration.value === "gtc" ? "gtc" : "day",
      };
      function money(input, what) {
        var cents = input ? typed(input.value, MONEY_TEXT, 2) : null;
        if (cents == null || cents <= 0n || cents > maxPrice) throw what;
        return cents;
      }
      try {
        if (!order.symbol) throw "a symbol";
        if (shares == null || shares <= 0n || shares > maxQuantity) throw "the number of shares";
        if (kind === "stop" || kind === "stop_limit") order.stop = money(inputs.stop, "a stop price");
        if (kind === "limit" || kind === "stop_limit") order.limit = money(inputs.limit, "a limit price");
        if (kind === "trailing_stop") {
          if (trailUnit === "amount") {
            order.trailAmount = money(inputs.trailAmount, "a trail in dollars");
          } else {
            var percent = inputs.trailPercent ? typed(inputs.trailPercent.value, PERCENT_TEXT, 2) : null;
            if (percent == null || percent <= 0n || percent > maxTrail) throw "a trail in percent";
            order.trailPercent = percent;
          }
        }
      } catch (missing) {
        return {missing: missing};
      }
      return {order: order};
    }

    // The price an order that waits would trade at, to estimate with: its limit, else its
    // stop (a trailing stop's, from the price now).
    function orderPrice(order, price) {
      if (order.limit != null) return order.limit;
      if (order.stop != null) return order.stop;
      return trailStop(order, price);
    }

    function trailStop(order, price) {
      var buying = buys(order.side);
      var stop;
      if (order.trailPercent != null) {
        // Rounded away from the mark, as trading.services._trail_stop rounds it.
        var scale = buying ? 10000n + order.trailPercent : 10000n - order.trailPercent;
        stop = buying ? (price * scale + 9999n) / 10000n : (price * scale) / 10000n;
      } else {
        stop = buying ? price + order.trailAmount : price - order.trailAmount;
      }
      return stop < 1n ? 1n : stop;
    }

    // What an open buy holds (trading.services._buy_hold): its worst-case cost.
    function hold(order, price, shares) {
      var worst = order.limit != null
        ? order.limit
        : halfUp((order.stop != null ? order.stop : trailStop(order, price)) * (10000n + cushion), 10000n);
      var total = worst * shares;
      return total + commissionFor(shares, total);
    }

    function cost(price, shares) {
      var total = price * shares;
      return total + commissionFor(shares, total);
    }

    // Whether a buy is within reach: `spend` (its cost or hold, commission included) from
    // the free cash; with margin, also when `margined` fits in the buying power.
    function withinReach(spend, margined) {
      return spend <= cash || (power != null && margined <= power);
    }

    // What a buy uses of the buying power, as the margin rule counts it: a market buy its
    // total, and its commission ÷ the initial margin (paid out of the equity the margin
    // stands on); an open buy's hold, all of it.
    function margined(total, commission) {
      if (power == null) return total + commission;
      return total + (commission * 10000n + initialMargin - 1n) / initialMargin;
    }

    // The most shares within reach (withinReach of fits(shares)): it grows with the shares
    // whatever the commission's kind, so a binary search finds it.
    function maxAffordable(fits) {
      var low = 0n;
      var high = maxQuantity;
      while (low < high) {
        var middle = (low + high + 1n) / 2n;
        if (fits(middle)) low = middle;
        else high = middle - 1n;
      }
      return low;
    }

    function affordableNow(state) {
      if (!state.price) return 0n;
      var found = readOrder(state, 1n);
      if (orderType() !== "market" && side() === "buy" && found.order) {
        return maxAffordable(function (shares) {
          var held = hold(found.order, state.price, shares);
          return withinReach(held, held);
        });
      }
      return maxAffordable(function (shares) {
        var total = state.price * shares;
        var commission = commissionFor(shares, total);
        return withinReach(total + commission, margined(total, commission));
      });
    }

    // Cash after a buy or a sale; below zero, in a class with margin, a loan.
    function cashAfterText(after) {
      return formatCents(after) + (after < 0n && power != null ? " (a margin loan)" : "");
    }

    function warn(text) {
      if (!warning) return;
      warning.textContent = text;
      warning.hidden = !text;
    }

    function label() {
      if (!submit) return;
      var chosen = side();
      var selling = !buys(chosen);
      var waits = orderType() !== "market";
      var words = {
        buy: ["Buy", "buy order"],
        sell: ["Sell", "sell order"],
        sell_short: ["Sell short", "sell-short order"],
        buy_to_cover: ["Buy to cover", "buy-to-cover order"],
      }[chosen];
      submit.textContent = waits ? "Place " + words[1] : words[0];
      if (fixedSide === "both") {
        submit.classList.toggle("btn-success", !selling);
        submit.classList.toggle("btn-danger", selling);
      }
    }

    function update() {
      var state = current();
      var kind = orderType();
      var chosen = side();
      var selling = !buys(chosen);
      var waits = kind !== "market";
      label();
      if (picker) {
        var size = (state.held + state.heldForOrders).toLocaleString("en-US");
        setText(priceDisplay, state.price == null ? "—" : formatCents(state.price));
        setText(heldDisplay, picker.value ? (state.short ? "Short " + size : size) : "—");
        if (heldForOrdersDisplay) {
          heldForOrdersDisplay.hidden = !(picker.value && state.heldForOrders > 0n);
          setText(heldForOrdersDisplay, state.heldForOrders.toLocaleString("en-US") + " held for your orders");
        }
      }
      var shares = wholeNumber(quantity.value);
      var found = readOrder(state, shares);
      if (preview) {
        setText(preview, found.order
          ? describe(found.order, gtcDays, waitsForOpen)
          : "Enter " + found.missing + " to see it in words.");
      }
      show(holdRows, false);
      if (estimateAt) estimateAt.hidden = true;
      if (state.price == null || shares == null || shares <= 0n) {
        setText(estimate, "—");
        setText(commissionEstimate, flat == null ? "—" : formatCents(flat));
        setText(cashAfter, "—");
        warn(quantity.value.trim() && shares == null ? "Enter a whole number of shares." : "");
        return;
      }
      var message = "";
      var price = state.price;
      if (waits) {
        if (!found.order) {
          setText(estimate, "—");
          setText(commissionEstimate, flat == null ? "—" : formatCents(flat));
          setText(cashAfter, "—");
          warn(shares > maxQuantity
            ? "One order is at most " + maxQuantity.toLocaleString("en-US") + " shares."
            : "");
          return;
        }
        price = orderPrice(found.order, state.price);
        setText(estimateAt, "at " + formatCents(price) + " a share");
        if (estimateAt) estimateAt.hidden = false;
        var stop = found.order.stop;
        if (stop != null && (selling ? stop >= state.price : stop <= state.price)) {
          message = state.symbol.toUpperCase() + " is at " + formatCents(state.price) + ": a " +
            (selling ? "sell stop goes below" : "buy stop goes above") + " the price now.";
        }
      }
      var total = price * shares;
      var commission = commissionFor(shares, total);
      setText(estimate, formatCents(total));
      setText(commissionEstimate, formatCents(commission));
      if (chosen === "buy_to_cover") {
        setText(cashAfter, formatCents(cash - total - commission));
        if (shares > state.held) {
          message = state.heldForOrders > 0n
            ? "You can cover " + state.held.toLocaleString("en-US") + " shares; " +
              state.heldForOrders.toLocaleString("en-US") + " more are held for your orders."
            : "You are short " + state.held.toLocaleString("en-US") + " shares.";
        }
      } else if (chosen === "sell_short") {
        setText(cashAfter, formatCents(cash + total - commission));
        if (!message && commission > total) {
          message = "The proceeds would not cover the commission.";
        }
      } else if (!selling) {
        var spend = total + commission;
        var uses = margined(total, commission);
        if (waits) {
          spend = hold(found.order, state.price, shares);
          uses = spend;
          show(holdRows, true);
          setText(holdEstimate, formatCents(spend));
        }
        setText(cashAfter, cashAfterText(cash - spend));
        if (!message && !withinReach(spend, uses)) {
          message = (power != null
            ? "That is more than your buying power of " + formatCents(power)
            : "That is more than your cash") + ": you can afford " +
            affordableNow(state).toLocaleString("en-US") + " shares.";
        }
      } else {
        setText(cashAfter, cashAfterText(cash + total - commission));
        if (shares > state.held) {
          message = state.heldForOrders > 0n
            ? "You can sell " + state.held.toLocaleString("en-US") + " shares; " +
              state.heldForOrders.toLocaleString("en-US") + " more are held for your orders."
            : "You hold " + state.held.toLocaleString("en-US") + " shares.";
        } else if (!message && commission > total) {
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
          : affordableNow(state);
        quantity.value = value > 0n ? value.toString() : "";
        update();
        quantity.focus();
      });
    });
    if (trailToggle) {
      trailToggle.hidden = false;
      trailToggle.querySelectorAll("[data-trail-unit]").forEach(function (button) {
        button.addEventListener("click", function () {
          trailUnit = button.dataset.trailUnit === "amount" ? "amount" : "percent";
          arrangeFields();
          update();
        });
      });
    }
    if (previewBox) previewBox.hidden = false;
    form.addEventListener("input", update);
    form.addEventListener("change", function (event) {
      if (event.target === typePicker) arrangeFields();
      update();
    });
    arrangeFields();
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
