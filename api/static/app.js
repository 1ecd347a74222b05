// A little progressive JavaScript: repeatable form rows and polling of long jobs. Pages work without it.
(function () {
  "use strict";

  // Rows named like "parties-3-name": add a copy of the last row (cleared, renumbered) or remove one.
  function renumber(table) {
    table.querySelectorAll("tbody tr[data-row]").forEach(function (row, index) {
      row.querySelectorAll("[name]").forEach(function (input) {
        input.name = input.name.replace(/^(\w+)-\d+-/, "$1-" + index + "-");
      });
      row.querySelectorAll("[data-row-number]").forEach(function (cell) { cell.textContent = String(index + 1); });
      // Labels name the row ("当事人3 手机号码"): keep them in step with the numbering.
      row.querySelectorAll("[aria-label]").forEach(function (control) {
        control.setAttribute("aria-label", control.getAttribute("aria-label").replace(/\d+/, String(index + 1)));
      });
    });
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var table = document.querySelector('table[data-rows="' + add.getAttribute("data-add-row") + '"]');
      var rows = table.querySelectorAll("tbody tr[data-row]");
      var last = rows[rows.length - 1];
      var copy = last.cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) {
        if (input.type === "checkbox") { input.checked = false; } else { input.value = ""; }
        input.classList.remove("invalid");
      });
      copy.querySelectorAll("textarea").forEach(function (area) { area.value = ""; });
      copy.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
      copy.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      last.parentNode.appendChild(copy);
      renumber(table);
      var first = copy.querySelector("input:not([type=checkbox])");
      if (first) { first.focus(); }
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var row = remove.closest("tr");
      var owner = row.closest("table");
      if (owner.querySelectorAll("tbody tr[data-row]").length > 1) {
        row.remove();
        renumber(owner);
      }
    }
  });

  // Forms marked data-confirm ask first; confirmed, they say so (without JavaScript the server asks on a page).
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (!form) { return; }
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    if (!form.querySelector('input[name="confirmed"]')) {
      var flag = document.createElement("input");
      flag.type = "hidden";
      flag.name = "confirmed";
      flag.value = "1";
      form.appendChild(flag);
    }
  });

  // The session record: a speaker is picked from those present (the server checks it again), and the
  // usual answer to the rights told fills the empty answers of the parties present in one click.
  function presentNames(form) {
    var names = {};
    form.querySelectorAll('input[name="present"]').forEach(function (box) { if (box.checked) { names[box.value] = true; } });
    return names;
  }
  function filterSpeakers(form) {
    var present = presentNames(form);
    form.querySelectorAll("select[data-speaker] option[data-needs-present]").forEach(function (option) {
      var away = !present[option.value] && !option.selected;
      option.hidden = away;
      option.disabled = away;
    });
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form.record-form");
    if (form && event.target.name === "present") { filterSpeakers(form); }
  });
  document.addEventListener("click", function (event) {
    var fill = event.target.closest("[data-fill-answers]");
    if (!fill) { return; }
    var form = fill.closest("form");
    form.querySelectorAll("tr[data-party-row]").forEach(function (row) {
      var box = row.querySelector('input[name="present"]');
      var answer = row.querySelector("input[data-answer]");
      if (box && box.checked && answer && !answer.value) { answer.value = fill.getAttribute("data-fill-answers"); }
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.record-form").forEach(filterSpeakers);
  });

  // Nothing typed is lost: a form whose action answers with an error comes back by redirect, empty.
  // Keep what was typed in this tab until the answer and put it back when the answer is an error.
  // Hidden fields (CSRF, versions), passwords and ID numbers are never kept.
  var KEPT = "tiaojie-kept-form";
  var NEVER_KEPT = /password|csrf|id_number|^version$|^confirmed$/;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.getAttribute("method") || "").toLowerCase() !== "post") { return; }
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || NEVER_KEPT.test(el.name) || /^(hidden|file|submit|button|password)$/.test(el.type)) { return; }
      if (el.type === "checkbox" || el.type === "radio") {
        values[el.name] = values[el.name] || [];
        if (el.checked) { values[el.name].push(el.value); }
      } else {
        values[el.name] = el.value;
      }
    });
    try {
      sessionStorage.setItem(KEPT, JSON.stringify({ action: form.getAttribute("action") || "", values: values }));
    } catch (e) { /* storage full or disabled: the page still works */ }
  });

  function restoreKept() {
    var raw = null;
    try { raw = sessionStorage.getItem(KEPT); sessionStorage.removeItem(KEPT); } catch (e) { return; }
    // An error flash comes only from an action answered by redirect (forms shown again by the server
    // keep what was typed themselves and set no flash).
    if (!raw || !document.querySelector("#flash.flash-error")) { return; }
    var kept = JSON.parse(raw);
    var form = Array.prototype.find.call(document.forms, function (f) {
      return (f.getAttribute("action") || "") === kept.action;
    });
    if (!form) { return; }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in kept.values)) { return; }
      var value = kept.values[el.name];
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = value.indexOf(el.value) !== -1;
      } else if (el.tagName === "SELECT" && !Array.prototype.some.call(el.options, function (o) { return o.value === value; })) {
        return; // a choice the page no longer offers stays unchosen
      } else {
        el.value = value;
      }
    });
    form.scrollIntoView({ block: "center" });
  }

  // Long jobs: poll the status endpoint, move the bar, offer the download when done.
  function poll(box) {
    var url = box.getAttribute("data-job-status");
    var bar = box.querySelector(".progress span");
    var state = box.querySelector(".job-state");
    var link = box.querySelector(".job-download");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          bar.style.width = s.progress + "%";
          state.textContent = s.state_label + "：" + s.message;
          if (s.state === "done") {
            link.hidden = false;
            link.querySelector("a").href = s.download;
          } else if (s.state !== "failed") {
            setTimeout(tick, 1000);
          }
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    restoreKept();
    document.querySelectorAll("[data-job-status]").forEach(poll);
  });
})();
