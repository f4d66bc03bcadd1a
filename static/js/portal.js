/* Loaded by every page (templates/base.html).
   A table wider than the screen scrolls inside its DSFR wrapper; a keyboard user can only scroll
   it if the scrolling element takes the focus (RGAA 7.3, axe « scrollable-region-focusable »).
   Tables written with the legacy markup (`.fr-table > table`) get that focus stop here, only
   while they actually overflow, so a table that fits adds no useless tab stop. */
(function () {
  "use strict";
  function update() {
    var scrollers = document.querySelectorAll(".fr-table > table, .fr-table__container");
    Array.prototype.forEach.call(scrollers, function (element) {
      var overflows = element.scrollWidth > element.clientWidth + 1;
      if (overflows && !element.hasAttribute("tabindex")) {
        element.setAttribute("tabindex", "0");
        element.setAttribute("data-portal-scroll", "");
      } else if (!overflows && element.hasAttribute("data-portal-scroll")) {
        element.removeAttribute("tabindex");
        element.removeAttribute("data-portal-scroll");
      }
    });
  }
  var pending = null;
  function schedule() {
    if (pending) { window.cancelAnimationFrame(pending); }
    pending = window.requestAnimationFrame(update);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", update);
  } else {
    update();
  }
  window.addEventListener("load", update);
  window.addEventListener("resize", schedule);
})();
