/* The quote page's price chart (Chart.js) and its periodic refresh.
 *
 * Data arrives in <script id="price-history" type="application/json"> (json_script):
 * {symbol, previous_close, times: [ISO…], labels: ["14:05", …], prices: ["123.45", …]}.
 * Prices travel as strings so the page never rounds a cent; the chart only needs them as
 * numbers. The axis labels come from the server, in the site's time zone (tradesim/charts.py).
 * Every REFRESH_MS, while the tab is visible and the student has not paused live updates
 * (live-updates.js), the page asks /prices/<SYMBOL>/live/ for the quote and the series and
 * updates both, without moving focus.
 */
(function () {
  "use strict";

  var REFRESH_MS = 15000;
  var MINUS = "\u2212";
  var money = new Intl.NumberFormat("en-US", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });

  function readHistory() {
    var node = document.getElementById("price-history");
    return node ? JSON.parse(node.textContent) : null;
  }

  // An axis tick whose label repeats the one before it is left blank (ticks in one second).
  function uniqueTick(value, index, ticks) {
    var label = this.getLabelForValue(value);
    return index > 0 && this.getLabelForValue(ticks[index - 1].value) === label ? null : label;
  }

  function series(data) {
    var prices = data.prices.map(Number);
    var close = Number(data.previous_close);
    return {
      labels: data.labels,
      prices: prices,
      close: prices.map(function () { return close; }),
      up: prices.length ? prices[prices.length - 1] >= close : true,
    };
  }

  function colors(up) {
    return up ? { line: "#146c43", fill: "rgba(20, 108, 67, 0.08)" } : { line: "#b02a37", fill: "rgba(176, 42, 55, 0.08)" };
  }

  function draw(canvas, data) {
    var s = series(data);
    var c = colors(s.up);
    return new window.Chart(canvas, {
      type: "line",
      data: {
        labels: s.labels,
        datasets: [
          {
            label: data.symbol,
            data: s.prices,
            borderColor: c.line,
            backgroundColor: c.fill,
            borderWidth: 1.5,
            pointRadius: 0,
            pointHitRadius: 6,
            fill: true,
            tension: 0,
          },
          {
            label: "Previous close",
            data: s.close,
            borderColor: "#6c757d",
            borderDash: [4, 4],
            borderWidth: 1,
            pointRadius: 0,
            pointHitRadius: 0,
            fill: false,
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: 8, autoSkip: true, autoSkipPadding: 16, maxRotation: 0, callback: uniqueTick } },
          y: { ticks: { callback: function (v) { return "$" + money.format(v); } } },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) { return ctx.dataset.label + ": $" + money.format(ctx.parsed.y); },
            },
          },
        },
      },
    });
  }

  // The chart's text alternative: a written summary and the numbers as a table.
  function describe(chart, data) {
    var charts = window.TradeSimCharts;
    var summary = document.querySelector('[data-chart-summary="price-chart"]');
    var details = document.querySelector('[data-chart-details="price-chart"]');
    var prices = data.prices.map(Number);
    if (!prices.length) return;
    var first = prices[0];
    var last = prices[prices.length - 1];
    var low = Math.min.apply(null, prices);
    var high = Math.max.apply(null, prices);
    var labels = data.labels || [];
    if (summary) {
      var change = first ? ((last - first) / first) * 100 : 0;
      var moved = change > 0 ? "rose " : change < 0 ? "fell " : "was unchanged";
      summary.textContent = data.symbol + " " + moved
        + (change ? Math.abs(change).toFixed(2) + " %" : "")
        + " over the chart, from $" + money.format(first) + " at " + labels[0]
        + " to $" + money.format(last) + " at " + labels[labels.length - 1]
        + "; low $" + money.format(low) + ", high $" + money.format(high)
        + ", previous close $" + money.format(Number(data.previous_close)) + ".";
      summary.hidden = false;
    }
    // An open table is left as it is: rebuilding it every refresh would lose a screen
    // reader's place (and redraw thousands of rows); while shut, each refresh rebuilds it.
    if (charts && details && !details.open) {
      charts.table(
        details.querySelector("[data-chart-table]"),
        data.symbol + " price at each market tick, oldest first",
        ["Time", "Price"],
        prices.map(function (price, i) { return [labels[i], "$" + money.format(price)]; })
      );
      details.hidden = false;
    }
  }

  function update(chart, data) {
    var s = series(data);
    var c = colors(s.up);
    chart.data.labels = s.labels;
    chart.data.datasets[0].data = s.prices;
    chart.data.datasets[0].borderColor = c.line;
    chart.data.datasets[0].backgroundColor = c.fill;
    chart.data.datasets[1].data = s.close;
    chart.update("none");
    describe(chart, data);
  }

  function signed(value, prefix, suffix) {
    var n = Number(value);
    var sign = n > 0 ? "+" : n < 0 ? MINUS : "";
    return sign + prefix + money.format(Math.abs(n)) + suffix;
  }

  function badge(node, value, prefix, suffix) {
    var n = Number(value);
    var span = document.createElement("span");
    span.className = "pnl " + (n > 0 ? "pnl-up" : n < 0 ? "pnl-down" : "pnl-flat");
    span.textContent = (n > 0 ? "▲ " : n < 0 ? "▼ " : "") + signed(value, prefix, suffix);
    node.replaceChildren(span);
  }

  function showQuote(root, quote, quoteTime) {
    var price = root.querySelector('[data-quote="price"]');
    var change = root.querySelector('[data-quote="change"]');
    var pct = root.querySelector('[data-quote="change_pct"]');
    var time = root.querySelector('[data-quote="timestamp"]');
    if (price) price.textContent = "$" + money.format(Number(quote.price));
    if (change) badge(change, quote.change, "$", "");
    if (pct) badge(pct, quote.change_pct, "", "%");
    if (time) {
      time.setAttribute("datetime", quote.timestamp);
      time.textContent = quoteTime;
    }
  }

  function startRefresh(root, chart) {
    var url = root.getAttribute("data-live-url");
    if (!url || !window.fetch) return;
    window.setInterval(function () {
      if (document.hidden || (window.TradeSimLive && window.TradeSimLive.paused())) return;
      window.fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (payload) {
          if (!payload) return;
          showQuote(root, payload.quote, payload.quote_time);
          if (chart) update(chart, payload.history);
        })
        .catch(function () { /* offline for a moment: try again at the next interval */ });
    }, REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = readHistory();
    var canvas = document.getElementById("price-chart");
    var chart = null;
    if (data && canvas && window.Chart) {
      chart = draw(canvas, data);
      if (window.TradeSimCharts) {
        window.TradeSimCharts.legend(chart, document.querySelector('[data-chart-legend="price-chart"]'));
      }
      describe(chart, data);
    }
    var root = document.getElementById("quote-live");
    if (root) startRefresh(root, chart);
  });
})();
