// Assessment pages: confirmation of irreversible steps, and the dashboard charts (Chart.js).
(function () {
  "use strict";

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  var palette = ["#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#dc3545"];

  function drawChart(canvas, payload) {
    if (typeof window.Chart === "undefined") {
      return;
    }
    var datasets = payload.datasets.map(function (set, n) {
      return {
        label: set.label,
        data: set.data,
        backgroundColor: palette[n % palette.length],
        borderRadius: 4,
      };
    });
    var scale = { beginAtZero: true, title: { display: true, text: payload.unit } };
    if (payload.yMax !== null && payload.yMax !== undefined) {
      scale.suggestedMax = payload.yMax;
    }
    canvas.chart = new window.Chart(canvas, {
      type: payload.type || "bar",
      data: { labels: payload.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { y: scale },
        plugins: { legend: { display: datasets.length > 1 } },
      },
    });
    canvas.setAttribute("data-chart-ready", "1");
  }

  document.querySelectorAll("canvas[data-chart-url]").forEach(function (canvas) {
    fetch(canvas.getAttribute("data-chart-url"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("图表数据加载失败：" + response.status);
        }
        return response.json();
      })
      .then(function (payload) {
        drawChart(canvas, payload);
      })
      .catch(function (error) {
        canvas.insertAdjacentHTML("afterend", '<p class="text-danger small">' + error.message + "</p>");
      });
  });
})();
