// Task and application forms: repeatable name lists, the household members table, conditional "required" hints,
// birth dates from ID numbers, and a size check before an upload leaves the browser. The server checks everything
// again: without JavaScript the forms still work.
(function () {
  "use strict";

  // -- repeatable text inputs (e.g. 调查人员) ------------------------------------------------------------------
  document.querySelectorAll(".list-field .add-item").forEach(function (button) {
    button.addEventListener("click", function () {
      var box = button.closest(".list-field");
      var input = document.createElement("input");
      input.type = "text";
      input.name = box.getAttribute("data-name");
      input.setAttribute("aria-label", (box.querySelector("input") || {}).getAttribute ? box.querySelector("input").getAttribute("aria-label") : "");
      box.insertBefore(input, button);
      input.focus();
    });
  });

  // -- household members table ---------------------------------------------------------------------------------
  function birthFromId(value) {
    var m = /^\d{6}(\d{4})(\d{2})(\d{2})\d{3}[\dXx]$/.exec((value || "").trim());
    return m ? m[1] + "-" + m[2] + "-" + m[3] : "";
  }
  function wireRow(row) {
    var id = row.querySelector("input.id-number");
    var birth = row.querySelector("input[type=date]");
    if (id && birth) {
      id.addEventListener("change", function () {
        var day = birthFromId(id.value);
        if (day && !birth.value) { birth.value = day; }
      });
    }
    var remove = row.querySelector(".remove-member, .remove-row");
    if (remove) {
      remove.addEventListener("click", function () {
        var body = row.parentNode;
        if (body.querySelectorAll("tr.member-row").length > 1) { body.removeChild(row); }
        else { row.querySelectorAll("input[type=text], input[type=date]").forEach(function (i) { i.value = ""; }); }
      });
    }
  }
  document.querySelectorAll("tr.member-row").forEach(wireRow);
  // The same for other tables of rows (the income items: .add-row / .remove-row).
  document.querySelectorAll(".add-member, .add-row").forEach(function (button) {
    button.addEventListener("click", function () {
      var prefix = button.getAttribute("data-prefix");
      var table = document.querySelector('table[data-members="' + prefix + '"]');
      var rows = table.querySelectorAll("tbody tr.member-row");
      var last = rows[rows.length - 1];
      var next = 0;
      table.querySelectorAll("[name^='" + prefix + "-']").forEach(function (el) {
        var n = parseInt(el.name.split("-")[1], 10);
        if (!isNaN(n) && n >= next) { next = n + 1; }
      });
      var row = last.cloneNode(true);
      row.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(/^([^-]+)-\d+-/, "$1-" + next + "-");
        if (el.type === "checkbox") { el.checked = false; } else if (el.tagName === "SELECT") { el.selectedIndex = 0; } else { el.value = ""; }
      });
      row.querySelectorAll(".field-error").forEach(function (el) { el.parentNode.removeChild(el); });
      last.parentNode.appendChild(row);
      wireRow(row);
      var first = row.querySelector("input[type=text]");
      if (first) { first.focus(); }
    });
  });

  // -- "required when": the server's rule, shown while filling in ---------------------------------------------
  var RULES = [["opinion", "decision", "reject"], ["opinion", "result", "fail"], ["findings", "conclusion", "dispute"]];
  RULES.forEach(function (rule) {
    var target = document.getElementById("field-" + rule[0]);
    var radios = document.querySelectorAll('input[type=radio][name="' + rule[1] + '"]');
    if (!target || !radios.length) { return; }
    function update() {
      var chosen = document.querySelector('input[type=radio][name="' + rule[1] + '"]:checked');
      target.classList.toggle("required-now", !!chosen && chosen.value === rule[2]);
    }
    radios.forEach(function (r) { r.addEventListener("change", update); });
    update();
  });

  // -- uploads: show the chosen name; refuse an oversized file before sending it ------------------------------
  document.querySelectorAll("label.file-pick").forEach(function (label) {
    var input = label.querySelector("input[type=file]");
    var name = label.querySelector(".file-name");
    input.addEventListener("change", function () {
      name.textContent = input.files && input.files[0] ? input.files[0].name : "未选择文件";
    });
  });
  document.querySelectorAll("form.upload[data-max-bytes]").forEach(function (form) {
    var max = parseInt(form.getAttribute("data-max-bytes"), 10);
    var input = form.querySelector("input[type=file]");
    var message = form.querySelector(".client-error");
    form.addEventListener("submit", function (event) {
      var file = input.files && input.files[0];
      if (file && file.size > max) {
        event.preventDefault();
        message.textContent = "文件过大：单个附件不能超过 " + Math.round(max / 1048576) + " MB";
        message.hidden = false;
      }
    });
  });

  // -- application: communities follow the chosen street --------------------------------------------------------
  var street = document.getElementById("street");
  var community = document.getElementById("community");
  if (street && community && street.getAttribute("data-communities")) {
    var places = JSON.parse(street.getAttribute("data-communities"));
    street.addEventListener("change", function () {
      community.innerHTML = "";
      (places[street.value] || []).forEach(function (name) {
        var option = document.createElement("option");
        option.value = name;
        option.textContent = name;
        community.appendChild(option);
      });
    });
  }
})();
