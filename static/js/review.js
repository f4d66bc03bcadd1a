/* Review workspace: keeps the proposal table's total current while amounts are typed.
   The server renders the same total; without this script nothing is lost. */
(function () {
  "use strict";
  var form = document.getElementById("proposal-form");
  var output = document.getElementById("proposal-total");
  if (!form || !output) {
    return;
  }
  var format = new Intl.NumberFormat("fr-FR", {
    style: "currency",
    currency: "EUR",
    maximumFractionDigits: 0,
    minimumFractionDigits: 0,
  });
  function update() {
    var total = 0;
    form.querySelectorAll("input.review-amount").forEach(function (input) {
      var value = parseInt(input.value, 10);
      if (!isNaN(value) && value > 0) {
        total += value;
      }
    });
    output.textContent = format.format(total);
  }
  form.addEventListener("input", function (event) {
    if (event.target.classList && event.target.classList.contains("review-amount")) {
      update();
    }
  });
})();
