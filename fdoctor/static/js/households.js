// Households and residents: the search filter (units › team › grid, one level at a time), the
// grid cascade (area › community › building), doctors filtered by team, and the birth date / sex
// read from a citizen ID as it is typed. Progressive: without this script the plain selects
// still work (the search filter then shows a level's children after 搜索).
(function () {
  "use strict";

  function option(value, label) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    return o;
  }

  function setupHouseholdForm(form) {
    var team = form.querySelector("#team_id");
    var cellSelect = form.querySelector("#grid_cell_id");
    var doctor = form.querySelector("#responsible_doctor_id");
    var cascade = form.querySelector("#grid-cascade");
    var levels = [form.querySelector("#grid-area"), form.querySelector("#grid-community"), form.querySelector("#grid-building")];
    var names = ["请选择片区", "请选择小区/村", "请选择楼栋"];
    var leaves = [];
    Array.prototype.forEach.call(cellSelect.options, function (o) {
      if (!o.value) { return; }
      var chain = (o.getAttribute("data-chain") || "").split("|").map(function (part) {
        var i = part.indexOf(":");
        return { id: part.slice(0, i), name: part.slice(i + 1) };
      });
      leaves.push({ id: o.value, team: o.getAttribute("data-team"), chain: chain });
    });

    function teamLeaves() {
      var t = team ? team.value : null;
      return leaves.filter(function (l) { return !t || l.team === t; });
    }

    function fill(level, prefix) {
      // Options of one level: distinct chain[level] of the leaves under the chosen prefix.
      var select = levels[level];
      var seen = {};
      select.innerHTML = "";
      select.appendChild(option("", names[level]));
      teamLeaves().forEach(function (l) {
        for (var k = 0; k < level; k++) {
          if (!l.chain[k] || l.chain[k].id !== prefix[k]) { return; }
        }
        var node = l.chain[level];
        if (node && !seen[node.id]) {
          seen[node.id] = true;
          select.appendChild(option(node.id, node.name));
        }
      });
      select.disabled = select.options.length <= 1;
      select.parentElement.classList.toggle("d-none", select.options.length <= 1 && level > 0);
    }

    function prefix() {
      return levels.map(function (s) { return s.value; });
    }

    function sync() {
      // The hidden real select takes the leaf whose whole chain matches the chosen levels.
      var p = prefix();
      var match = teamLeaves().filter(function (l) {
        return l.chain.every(function (node, k) { return p[k] === node.id; });
      });
      cellSelect.value = match.length ? match[0].id : "";
    }

    function onLevel(level) {
      for (var k = level + 1; k < levels.length; k++) { fill(k, prefix()); }
      sync();
    }

    function restore() {
      var current = leaves.filter(function (l) { return l.id === cellSelect.value; })[0];
      fill(0, []);
      for (var k = 0; k < levels.length; k++) {
        if (current && current.chain[k]) { levels[k].value = current.chain[k].id; }
        if (k + 1 < levels.length) { fill(k + 1, prefix()); }
      }
      sync();
    }

    function filterDoctors() {
      if (!doctor || !team) { return; }
      Array.prototype.forEach.call(doctor.options, function (o) {
        var t = o.getAttribute("data-team");
        var hide = t && t !== team.value;
        o.hidden = hide;
        o.disabled = hide;
        if (hide && o.selected) { doctor.value = ""; }
      });
    }

    levels.forEach(function (select, level) {
      select.addEventListener("change", function () { onLevel(level); });
    });
    if (team) {
      team.addEventListener("change", function () {
        levels.forEach(function (s) { s.value = ""; });
        cellSelect.value = "";
        restore();
        filterDoctors();
      });
    }
    cascade.classList.remove("d-none");
    cellSelect.classList.add("d-none");
    restore();
    filterDoctors();
  }

  // Fields with a length limit: say so instead of letting the browser cut the entry.
  function setupLengthChecks() {
    document.querySelectorAll("[data-maxlength]").forEach(function (input) {
      var limit = parseInt(input.getAttribute("data-maxlength"), 10);
      var out = document.getElementById(input.id + "-length");
      function check() {
        var length = Array.from(input.value).length;
        var tooLong = length > limit;
        var message = tooLong ? "最多" + limit + "个字，当前" + length + "个字，请删减" : "";
        input.setCustomValidity(message);
        input.classList.toggle("is-invalid", tooLong);
        if (out) { out.textContent = message; }
      }
      input.addEventListener("input", check);
      check();
    });
  }

  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK = "10X98765432";

  function describeId(raw, today) {
    var n = (raw || "").replace(/\s/g, "").toUpperCase();
    if (n.length !== 18) { return null; }
    if (!/^\d{17}[\dX]$/.test(n)) { return { error: "身份证号前17位应为数字，最后一位为数字或X" }; }
    var sum = 0;
    for (var i = 0; i < 17; i++) { sum += parseInt(n[i], 10) * WEIGHTS[i]; }
    if (CHECK[sum % 11] !== n[17]) { return { error: "身份证号校验位不正确" }; }
    var y = +n.slice(6, 10), m = +n.slice(10, 12), d = +n.slice(12, 14);
    var born = new Date(Date.UTC(y, m - 1, d));
    if (born.getUTCFullYear() !== y || born.getUTCMonth() !== m - 1 || born.getUTCDate() !== d) {
      return { error: "身份证号中的出生日期无效" };
    }
    var t = today.split("-").map(Number);
    if (y > t[0] || (y === t[0] && (m > t[1] || (m === t[1] && d > t[2])))) {
      return { error: "身份证号中的出生日期晚于今天，请核对身份证号" };
    }
    if (y < 1900) { return { error: "身份证号中的出生日期早于1900年，请核对身份证号" }; }
    var age = t[0] - y - ((t[1] < m || (t[1] === m && t[2] < d)) ? 1 : 0);
    return {
      birth: n.slice(6, 10) + "-" + n.slice(10, 12) + "-" + n.slice(12, 14),
      sex: parseInt(n[16], 10) % 2 === 1 ? "男" : "女",
      age: age
    };
  }

  function mark(badge, on) {
    badge.classList.toggle("text-bg-info", on);
    badge.classList.toggle("text-bg-light", !on);
  }

  function setupResidentForm(form) {
    var input = form.querySelector("#citizen_id");
    var out = form.querySelector("#id-derived");
    var today = form.getAttribute("data-today");
    function update() {
      var info = describeId(input.value, today);
      if (!info) { return; }
      out.classList.toggle("fd-id-error", !!info.error);
      out.textContent = info.error ? info.error : "出生日期 " + info.birth + "，" + info.sex + "，" + (info.age < 1 ? "不满1岁" : info.age + "岁");
      var elderly = form.querySelector("#derived-elderly65");
      var child = form.querySelector("#derived-child0_6");
      if (!info.error && elderly && child) {
        mark(elderly, info.age >= 65);
        mark(child, info.age <= 6);
      }
    }
    input.addEventListener("input", update);
  }

  function setupSearchFilter(form) {
    // Choosing a level asks the server for the next one: the levels below the changed one are
    // dropped (they belonged to the previous choice) and the search runs again.
    var levels = Array.prototype.slice.call(form.querySelectorAll(".fd-filter-level"));
    levels.forEach(function (select, index) {
      select.addEventListener("change", function () {
        levels.slice(index + 1).forEach(function (lower) { lower.disabled = true; });
        if (typeof form.requestSubmit === "function") { form.requestSubmit(); } else { form.submit(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var search = document.getElementById("resident-search");
    if (search) { setupSearchFilter(search); }
    var household = document.getElementById("household-form");
    if (household) { setupHouseholdForm(household); }
    var resident = document.getElementById("resident-form");
    if (resident) { setupResidentForm(resident); }
    setupLengthChecks();
  });
})();
