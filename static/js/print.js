/* Buttons marked data-print print the page (no inline handler: the CSP forbids them). */
document.querySelectorAll("[data-print]").forEach(function (button) {
  "use strict";
  button.addEventListener("click", function () {
    window.print();
  });
});
