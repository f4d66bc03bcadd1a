/* Accessible names for the admin's form controls that Django and its widgets render without a
   <label> (templates/admin/base_site.html; issue #14; checked by
   tests/browser/test_admin_accessibility.py):
   - tabular inline rows: each cell's control is named after its column header and row number;
   - split date/time inputs (« Date : … Heure : … »): named after their field's label;
   - autocomplete boxes (select2) and the filter_horizontal widget's search icons, which Django's
     scripts create after load (a MutationObserver names them as they appear, inline rows added
     with « Ajouter un autre » included).
   Only controls without any accessible name are touched: a real <label> always wins. */
(function () {
  "use strict";

  function text(element) {
    return element ? element.textContent.replace(/\s+/g, " ").replace(/[*:]\s*$/, "").trim() : "";
  }

  function hasName(control) {
    if (control.getAttribute("aria-label") || control.getAttribute("aria-labelledby")) {
      return true;
    }
    if (control.id && document.querySelector('label[for="' + CSS.escape(control.id) + '"]')) {
      return true;
    }
    return Boolean(control.closest("label"));
  }

  function fieldLabel(element) {
    var row = element.closest(".form-row, .fieldBox, .form-group");
    var label = row && row.querySelector("label");
    return text(label);
  }

  function nameTabularRows(root) {
    root.querySelectorAll(".tabular table").forEach(function (table) {
      var headers = Array.prototype.map.call(table.querySelectorAll("thead th"), text);
      table.querySelectorAll("tbody tr.form-row").forEach(function (row, index) {
        var rowName = "ligne " + (index + 1);
        var original = row.querySelector("td.original p");
        if (original && text(original)) { rowName = text(original); }
        var cells = row.querySelectorAll("td");
        cells.forEach(function (cell) {
          var column = headers[cell.cellIndex] || "";
          if (cell.classList.contains("delete")) { column = "Supprimer"; }
          cell.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (control) {
            if (!hasName(control) && column) {
              control.setAttribute("aria-label", column + " (" + rowName + ")");
            }
          });
        });
      });
    });
  }

  function nameSplitDateTimes(root) {
    root.querySelectorAll("p.datetime").forEach(function (paragraph) {
      var field = fieldLabel(paragraph);
      var inputs = paragraph.querySelectorAll("input.vDateField, input.vTimeField");
      inputs.forEach(function (input) {
        if (hasName(input)) { return; }
        var part = input.classList.contains("vDateField") ? "date" : "heure";
        var tabular = input.closest(".tabular td");
        if (tabular) { return; } // named with its column by nameTabularRows
        input.setAttribute("aria-label", (field ? field + " — " : "") + part);
      });
    });
  }

  function nameWidgets(root) {
    // select2: the combobox is named by its (empty) rendered selection; name it like its <select>.
    root.querySelectorAll(".select2-selection[role=combobox]").forEach(function (box) {
      var container = box.closest(".select2-container");
      var select = container && container.previousElementSibling;
      if (!select || select.tagName !== "SELECT") { return; }
      var label = select.getAttribute("aria-label") ||
        text(select.id && document.querySelector('label[for="' + CSS.escape(select.id) + '"]'));
      if (label) {
        box.setAttribute("aria-label", label);
        box.removeAttribute("aria-labelledby");
      }
      var rendered = box.querySelector(".select2-selection__rendered");
      if (rendered && rendered.getAttribute("role") === "textbox" && label) {
        rendered.setAttribute("aria-label", label);
      }
    });
    root.querySelectorAll(".select2-search__field").forEach(function (field) {
      if (hasName(field)) { return; }
      var container = field.closest(".select2-container");
      var select = container && container.previousElementSibling;
      var label = select && select.id &&
        text(document.querySelector('label[for="' + CSS.escape(select.id) + '"]'));
      field.setAttribute("aria-label", label ? "Rechercher : " + label : "Rechercher");
    });
    // filter_horizontal: the search icon span carries aria-label without a role that allows it.
    root.querySelectorAll(".help-tooltip.search-label-icon[aria-label]:not([role])").forEach(function (icon) {
      icon.setAttribute("role", "img");
    });
  }

  function run() {
    nameTabularRows(document);
    nameSplitDateTimes(document);
    nameWidgets(document);
    // Lets the browser tests wait for a condition instead of a delay.
    document.documentElement.setAttribute("data-admin-a11y", "ready");
  }

  var scheduled = false;
  function schedule() {
    if (scheduled) { return; }
    scheduled = true;
    window.requestAnimationFrame(function () { scheduled = false; run(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    run();
    new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
  });
  window.addEventListener("load", run);
})();
