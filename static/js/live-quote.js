// Live quote: re-computes the funding quote as the support request form changes.
(function () {
  "use strict";
  var form = document.getElementById("application-form");
  var target = document.getElementById("quote");
  if (!form || !target) { return; }
  var timer = null;
  function refresh() {
    fetch(form.dataset.quoteUrl, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: {"X-Requested-With": "fetch"}
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html) { target.outerHTML = html; target = document.getElementById("quote"); }
    });
  }
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  });
})();
