/* What a Chart.js canvas cannot give a keyboard or a screen reader (docs/accessibility.md):
 *
 * TradeSimCharts.legend(chart, container) draws the chart's legend as real <button>s in
 *   container (Chart.js's own legend is drawn on the canvas, out of reach of the keyboard:
 *   the chart's config turns it off). Each button shows or hides its series (or, for a doughnut, its slice)
 *   and says which with aria-pressed.
 * TradeSimCharts.table(container, caption, headers, rows) fills container with a data
 *   table of the chart's numbers (the page puts it in a <details> "Show the numbers as a
 *   table"), so the chart has a text alternative beside its written summary.
 */
(function () {
  "use strict";

  function isSliceChart(chart) {
    return chart.config.type === "doughnut" || chart.config.type === "pie";
  }

  function items(chart) {
    if (isSliceChart(chart)) {
      var colors = chart.data.datasets[0].backgroundColor || [];
      return chart.data.labels.map(function (label, i) {
        return {
          label: label,
          color: Array.isArray(colors) ? colors[i] : colors,
          dashed: false,
          visible: function () { return chart.getDataVisibility(i); },
          toggle: function () { chart.toggleDataVisibility(i); },
        };
      });
    }
    return chart.data.datasets.map(function (dataset, i) {
      return {
        label: dataset.label,
        color: dataset.borderColor,
        dashed: Array.isArray(dataset.borderDash) && dataset.borderDash.length > 0,
        visible: function () { return chart.isDatasetVisible(i); },
        toggle: function () { chart.setDatasetVisibility(i, !chart.isDatasetVisible(i)); },
      };
    });
  }

  function legend(chart, container) {
    if (!chart || !container) return;
    var list = document.createElement("ul");
    list.className = "chart-legend list-unstyled d-flex flex-wrap gap-2 mb-2";
    items(chart).forEach(function (item) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-secondary chart-legend-item";
      var swatch = document.createElement("span");
      swatch.className = "chart-swatch" + (item.dashed ? " chart-swatch-dashed" : "");
      swatch.setAttribute("aria-hidden", "true");
      swatch.style.borderColor = item.color;
      if (!item.dashed) swatch.style.backgroundColor = item.color;
      button.appendChild(swatch);
      button.appendChild(document.createTextNode(item.label));
      function show() { button.setAttribute("aria-pressed", item.visible() ? "true" : "false"); }
      button.addEventListener("click", function () {
        item.toggle();
        chart.update();
        show();
      });
      show();
      li.appendChild(button);
      list.appendChild(li);
    });
    container.replaceChildren(list);
    container.hidden = false;
  }

  function table(container, caption, headers, rows) {
    if (!container) return;
    var t = document.createElement("table");
    // On a phone each row stacks (tradesim.css .table-stack), its numbers labelled.
    // The roles keep it a table to screen readers when CSS lays it out as blocks.
    t.className = "table table-sm table-striped mb-0 table-stack chart-numbers";
    t.setAttribute("role", "table");
    var c = document.createElement("caption");
    c.className = "caption-top";
    c.textContent = caption;
    t.appendChild(c);
    var thead = t.createTHead();
    thead.setAttribute("role", "rowgroup");
    var head = thead.insertRow();
    head.setAttribute("role", "row");
    headers.forEach(function (text, i) {
      var th = document.createElement("th");
      th.scope = "col";
      th.setAttribute("role", "columnheader");
      th.textContent = text;
      if (i > 0) th.className = "num";
      head.appendChild(th);
    });
    var body = t.createTBody();
    body.setAttribute("role", "rowgroup");
    rows.forEach(function (cells) {
      var tr = body.insertRow();
      tr.setAttribute("role", "row");
      cells.forEach(function (text, i) {
        var cell = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) {
          cell.scope = "row";
          cell.className = "fw-normal";
          cell.setAttribute("role", "rowheader");
        } else {
          cell.className = "num";
          cell.setAttribute("role", "cell");
          cell.dataset.label = headers[i];
        }
        cell.textContent = text;
        tr.appendChild(cell);
      });
    });
    container.replaceChildren(t);
  }

  window.TradeSimCharts = { legend: legend, table: table };
})();
