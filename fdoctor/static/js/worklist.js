// Work list: filter the items by resident name or service label as the doctor types.
(function () {
  "use strict";
  var box = document.getElementById("worklist-filter");
  if (!box) {
    return;
  }
  box.addEventListener("input", function () {
    var needle = box.value.trim();
    document.querySelectorAll(".work-item").forEach(function (item) {
      var text = item.querySelector(".resident-name").textContent + " " +
        item.querySelector(".service-label").textContent;
      item.classList.toggle("d-none", needle !== "" && text.indexOf(needle) === -1);
    });
  });
})();
