/* The dashboard's charts (Chart.js): the allocation doughnut, by sector or by symbol, and
 * the performance line against the market index.
 *
 * Data arrives in <script id="portfolio-chart-data" type="application/json"> (json_script):
 *   allocation: {sector: [{label, value, weight}], symbol: [...]}
 *   history: {labels, performance, index, index_label, total_value}
 * Amounts travel as strings so the page never rounds a cent; the charts only need numbers.
 * Without JavaScript the page shows the same numbers as tables; the chart boxes and the
 * by-sector/by-symbol switch stay hidden.
 */
(function () {
  "use strict";

  var PALETTE = [
    "#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#d63384",
    "#20c997", "#0dcaf0", "#ffc107", "#6610f2", "#dc3545",
  ];
  var CASH_COLOR = "#adb5bd";
  var money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function readData() {
    var node = document.getElementById("portfolio-chart-data");
    return node ? JSON.parse(node.textContent) : null;
  }

  function numbers(list) {
    return (list || []).map(function (v) { return v === null ? null : Number(v); });
  }

  function colorsFor(slices) {
    return slices.map(function (s, i) { return s.label === "Cash" ? CASH_COLOR : PALETTE[i % PALETTE.length]; });
  }

  function allocationConfig(slices) {
    return {
      type: "doughnut",
      data: {
        labels: slices.map(function (s) { return s.label; }),
        datasets: [{
          data: slices.map(function (s) { return Number(s.value); }),
          backgroundColor: colorsFor(slices),
          borderWidth: 1,
        }],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          // Beside the ring on a wide card; under it on a phone, where names would be cut.
          legend: { position: window.matchMedia("(max-width: 575.98px)").matches ? "bottom" : "right" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var slice = slices[ctx.dataIndex];
                return slice.label + ": $" + money.format(Number(slice.value)) + " (" + slice.weight + "%)";
              },
            },
          },
        },
      },
    };
  }

  function drawAllocation(data) {
    var canvas = document.getElementById("allocation-chart");
    var toggle = document.querySelector("[data-allocation-toggle]");
    if (!canvas || !data.allocation) return;
    var chart = new window.Chart(canvas, allocationConfig(data.allocation.sector));

    function show(grouping) {
      var slices = data.allocation[grouping];
      var config = allocationConfig(slices);
      chart.data = config.data;
      chart.options.plugins.tooltip.callbacks.label = config.options.plugins.tooltip.callbacks.label;
      chart.update("none");
      document.querySelectorAll("[data-allocation-table]").forEach(function (table) {
        table.hidden = table.getAttribute("data-allocation-table") !== grouping;
      });
      if (toggle) {
        toggle.querySelectorAll("[data-allocation]").forEach(function (button) {
          var on = button.getAttribute("data-allocation") === grouping;
          button.classList.toggle("active", on);
          button.setAttribute("aria-pressed", on ? "true" : "false");
        });
      }
    }

    if (toggle) {
      toggle.hidden = false;
      toggle.addEventListener("click", function (event) {
        var button = event.target.closest("[data-allocation]");
        if (button) show(button.getAttribute("data-allocation"));
      });
    }
    show("sector");
  }

  function drawPerformance(data) {
    var canvas = document.getElementById("performance-chart");
    var h = data.history;
    if (!canvas || !h) return;
    var datasets = [{
      label: "You (value of one unit, start = 100)",
      shortLabel: "You",
      data: numbers(h.performance),
      borderColor: "#0d6efd",
      backgroundColor: "rgba(13, 110, 253, 0.08)",
      borderWidth: 2,
      pointRadius: 0,
      pointHitRadius: 6,
      fill: false,
      yAxisID: "y",
    }];
    if (h.index) {
      datasets.push({
        label: (h.index_label || "Market index") + ", start = 100",
        shortLabel: h.index_label || "Market index",
        data: numbers(h.index),
        borderColor: "#6c757d",
        borderDash: [5, 4],
        borderWidth: 1.5,
        pointRadius: 0,
        pointHitRadius: 6,
        spanGaps: true,
        fill: false,
        yAxisID: "y",
      });
    }
    datasets.push({
      label: "Total value ($)",
      data: numbers(h.total_value),
      borderColor: "#198754",
      borderWidth: 1,
      pointRadius: 0,
      pointHitRadius: 6,
      fill: false,
      hidden: true,
      yAxisID: "dollars",
    });
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: h.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: 8, autoSkip: true, maxRotation: 0 } },
          y: { position: "left", title: { display: true, text: "start = 100" } },
          dollars: {
            position: "right",
            display: "auto",
            grid: { drawOnChartArea: false },
            ticks: { callback: function (v) { return "$" + money.format(v); } },
          },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (ctx) {
                if (ctx.dataset.yAxisID === "dollars") return "Total value: $" + money.format(ctx.parsed.y);
                return ctx.dataset.shortLabel + ": " + ctx.parsed.y.toFixed(2);
              },
            },
          },
        },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = readData();
    if (!data || !window.Chart) return;
    document.querySelectorAll("[data-chart-only]").forEach(function (box) { box.hidden = false; });
    drawAllocation(data);
    drawPerformance(data);
  });
})();
