// Draws the stats page's charts (Chart.js, vendored) from the JSON the page carries
// (json_script "intake-stats-data"). The same numbers are in the tables under each
// chart, so without this script, or with a screen reader, nothing is lost.
(function () {
  "use strict";
  var source = document.getElementById("intake-stats-data");
  if (!source || typeof window.Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var Chart = window.Chart;
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  if (reduceMotion) Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  var palette = ["#1f5fbf", "#0b6e4f", "#b5651d", "#7b3fa0", "#b3261e", "#5f6b7a"];

  // The one size formatter (static/intake/sizes.js, the twin of uploader/uploads/sizes.py).
  var humanBytes = window.intakeFormatBytes;

  function dayLabel(iso) {
    // Plain local dates: "2025-03-04" read as a calendar day, not as UTC midnight.
    var parts = iso.split("-");
    var day = new Date(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2]));
    return day.toLocaleDateString(undefined, { day: "numeric", month: "short" });
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return null;
    return new Chart(canvas, config);
  }

  draw("chart-by-day", {
    data: {
      labels: data.byDay.labels.map(dayLabel),
      datasets: [
        { type: "bar", label: "Files", data: data.byDay.files, backgroundColor: palette[0], yAxisID: "files", order: 2 },
        {
          type: "line", label: "Bytes", data: data.byDay.bytes, borderColor: palette[2], backgroundColor: palette[2],
          pointRadius: 2, tension: 0.2, yAxisID: "bytes", order: 1
        }
      ]
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        files: { type: "linear", position: "left", beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "Files" } },
        bytes: {
          type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
          ticks: { callback: function (value) { return humanBytes(value); } }, title: { display: true, text: "Bytes" }
        }
      },
      plugins: {
        tooltip: {
          callbacks: {
            label: function (item) {
              return item.dataset.yAxisID === "bytes" ? "Bytes: " + humanBytes(item.parsed.y) : "Files: " + item.parsed.y;
            }
          }
        }
      }
    }
  });

  draw("chart-by-kind", {
    type: "doughnut",
    data: { labels: data.byKind.labels, datasets: [{ label: "Files", data: data.byKind.files, backgroundColor: palette }] },
    options: { plugins: { legend: { position: "bottom" } } }
  });

  draw("chart-by-state", {
    type: "bar",
    data: { labels: data.byState.labels, datasets: [{ label: "Uploads", data: data.byState.files, backgroundColor: palette[1] }] },
    options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { display: false } } }
  });
})();
