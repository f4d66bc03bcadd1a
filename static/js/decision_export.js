/* Poll the decision export status and update the progress page (plain JS, no build step). */
(function () {
  "use strict";
  var root = document.getElementById("export-progress");
  var bar = document.getElementById("export-bar");
  var download = document.getElementById("export-download");
  function field(name) { return root.querySelector('[data-field="' + name + '"]'); }
  function poll() {
    fetch(root.dataset.statusUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        bar.value = state.percent;
        bar.textContent = state.percent + " %";
        field("label").textContent = state.label;
        field("done").textContent = state.done;
        field("percent").textContent = state.percent;
        if (state.status === "done") { download.hidden = false; return; }
        if (state.status !== "failed") { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  if (root.querySelector('[data-field="label"]') && root.dataset.finished !== "true") { poll(); }
})();
