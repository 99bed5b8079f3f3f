// Signing form: doctors follow the chosen team, the term hint follows the chosen members
// (key populations 1–3 years, others 3–5), and the yearly fee of the chosen packages is summed.
(function () {
  "use strict";

  function setup(form) {
    var team = form.querySelector("#team_id");
    var doctor = form.querySelector("#doctor_id");
    var hint = form.querySelector("#term-hint");
    var total = form.querySelector("#fee-total");

    function members() {
      return Array.prototype.filter.call(
        form.querySelectorAll("input[name='members']"), function (c) { return c.checked; });
    }

    function filterDoctors() {
      if (!team || !doctor) { return; }
      Array.prototype.forEach.call(doctor.options, function (o) {
        var t = o.getAttribute("data-team");
        var hide = !!t && t !== team.value;
        o.hidden = hide;
        o.disabled = hide;
        if (hide && o.selected) { doctor.value = ""; }
      });
    }

    function updateHint() {
      var chosen = members();
      if (!chosen.length) {
        hint.textContent = "重点人群及慢病高危人群1至3年，其他居民3至5年";
        return;
      }
      var key = chosen.some(function (c) { return c.getAttribute("data-key") === "1"; });
      hint.textContent = key ? "所选成员含重点人群或慢病高危人群：服务期1至3年" : "所选成员均为一般人群：服务期3至5年";
    }

    function updateFee() {
      var count = members().length;
      var fen = 0;
      form.querySelectorAll("input[name='packages']").forEach(function (box) {
        if (!box.checked) { return; }
        var persons = form.querySelector("#persons_" + box.value);
        var n = persons && persons.value ? parseInt(persons.value, 10) : count;
        fen += parseInt(box.getAttribute("data-fee"), 10) * (isNaN(n) ? 0 : n);
      });
      total.textContent = (fen / 100).toFixed(2);
    }

    form.addEventListener("change", function () { updateHint(); updateFee(); });
    form.addEventListener("input", updateFee);
    if (team) { team.addEventListener("change", filterDoctors); }
    filterDoctors();
    updateHint();
    updateFee();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("sign-form");
    if (form) { setup(form); }
  });
})();
