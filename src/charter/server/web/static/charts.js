// Draw each monitor's series (from the page's JSON, never from the network) with the plotly.js this server serves.
(function () {
  "use strict";
  var source = document.getElementById("charts-data");
  if (!source || typeof window.Plotly === "undefined") { return; }
  var charts = JSON.parse(source.textContent);
  charts.forEach(function (chart) {
    var element = document.getElementById(chart.id);
    if (!element || chart.x.length === 0) { return; }
    var traces = [{
      x: chart.x, y: chart.y, type: "scatter", mode: "lines+markers", name: chart.metric,
      line: { color: "#1f5fbf" },
      marker: { color: chart.status.map(function (s) { return s === "critical" ? "#b3261e" : s === "warning" ? "#a86a00" : "#1f5fbf"; }) }
    }];
    var shapes = [];
    [["warn", "#a86a00"], ["critical", "#b3261e"]].forEach(function (pair) {
      var level = chart[pair[0]];
      if (level === null || level === undefined) { return; }
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: level, y1: level,
                    line: { color: pair[1], dash: "dash", width: 1 } });
    });
    window.Plotly.newPlot(element, traces, {
      margin: { l: 48, r: 12, t: 8, b: 40 }, height: 260, shapes: shapes, showlegend: false,
      xaxis: { type: "date" }, yaxis: { title: { text: chart.metric } }
    }, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage", "sendDataToCloud"] });
  });
}());
