// Surveys pages: hide the call questions when the resident could not be reached, and keep the
// complaint form's doctor list to the chosen team. No inline scripts (the CSP forbids them).
(function () {
  "use strict";

  var callForm = document.getElementById("call-form");
  if (callForm) {
    var questions = callForm.querySelector(".call-questions");
    var sync = function () {
      var unreachable = document.getElementById("outcome-unreachable");
      questions.classList.toggle("d-none", Boolean(unreachable && unreachable.checked));
    };
    callForm.querySelectorAll("input[name=outcome]").forEach(function (input) {
      input.addEventListener("change", sync);
    });
    sync();
  }

  var team = document.getElementById("team_id");
  var doctor = document.getElementById("doctor_id");
  if (team && doctor) {
    var filterDoctors = function () {
      Array.prototype.forEach.call(doctor.options, function (option) {
        var other = option.dataset.team && team.value && option.dataset.team !== team.value;
        option.hidden = Boolean(other);
        if (other && option.selected) {
          doctor.value = "";
        }
      });
    };
    team.addEventListener("change", filterDoctors);
    filterDoctors();
  }
})();
