// Settlement pages: collapse/expand the cascade tree and confirm irreversible actions.
(function () {
  "use strict";

  function childrenOf(table, id) {
    return table.querySelectorAll('tr[data-parent="' + id + '"]');
  }

  function setOpen(table, id, open) {
    childrenOf(table, id).forEach(function (row) {
      row.classList.toggle("is-hidden", !open);
      if (!open) {
        // Closing hides the whole subtree; opening shows one level at a time.
        setOpen(table, row.dataset.line, false);
        var toggle = row.querySelector(".tree-toggle");
        if (toggle) { toggle.setAttribute("aria-expanded", "false"); toggle.textContent = "▸"; }
      }
    });
  }

  document.querySelectorAll("table.settlement-tree").forEach(function (table) {
    table.querySelectorAll(".tree-toggle").forEach(function (button) {
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", open ? "true" : "false");
        button.textContent = open ? "▾" : "▸";
        setOpen(table, button.dataset.line, open);
      });
    });
    // Members start folded under their team so a pool's sheet stays readable on a tablet.
    table.querySelectorAll('tr[data-level="team"]').forEach(function (row) {
      var toggle = row.querySelector(".tree-toggle");
      if (toggle) { toggle.setAttribute("aria-expanded", "false"); toggle.textContent = "▸"; }
      setOpen(table, row.dataset.line, false);
    });
  });

  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
    });
  });
})();
