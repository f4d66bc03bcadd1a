/* Poll the FINESS import status and update the progress page (plain JS, no build step). */
(function () {
  "use strict";
  var root = document.getElementById("finess-import");
  if (!root) {
    return;
  }
  var url = root.getAttribute("data-status-url");
  var bar = document.getElementById("finess-import-bar");
  var report = document.getElementById("finess-import-report");
  var reportTitle = document.getElementById("finess-import-report-title");

  function show(data) {
    bar.value = data.progress;
    bar.textContent = data.progress + " %";
    root.querySelectorAll("[data-field]").forEach(function (node) {
      node.textContent = data[node.getAttribute("data-field")];
    });
    if (data.finished) {
      report.textContent = data.report;
      report.hidden = false;
      reportTitle.hidden = false;
      root.setAttribute("data-finished", "true");
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (!data.finished) {
          window.setTimeout(poll, 1500);
        }
      })
      .catch(function () {
        // Network hiccup or server restart: try again, less often.
        window.setTimeout(poll, 5000);
      });
  }

  if (root.getAttribute("data-finished") !== "true") {
    poll();
  }
})();
