// ssctrial web forms: inline validation against the instrument registry, the mRSS body map,
// and widths of dashboard bars. No framework, no build step; the server checks everything again.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  document.querySelectorAll(".bar .fill[data-width]").forEach(function (el) {
    el.style.width = Math.max(2, parseInt(el.dataset.width, 10)) + "%";
  });

  var form = document.getElementById("visit-form");
  if (!form) { return; }
  var instrument = form.dataset.instrument;
  var timers = {};

  function showMessage(input, message) {
    var box = document.getElementById("msg_" + input.dataset.item);
    if (box) { box.textContent = message || ""; }
    if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    var site = document.querySelector('.site[data-site="' + input.dataset.item + '"]');
    if (site) { site.classList.toggle("bad", !!message); }
  }

  function validate(input) {
    var value = input.value;
    if (value === "") { showMessage(input, ""); return; }
    fetch("/api/v1/validate", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ instrument: instrument, item: input.dataset.item, value: value })
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (res) { if (res && input.value === value) { showMessage(input, res.message); } })
      .catch(function () { /* offline: the server checks on save */ });
  }

  form.querySelectorAll("[data-item]").forEach(function (input) {
    var handler = function () {
      clearTimeout(timers[input.dataset.item]);
      timers[input.dataset.item] = setTimeout(function () { validate(input); }, 200);
      paintSite(input.dataset.item);
    };
    input.addEventListener("input", handler);
    input.addEventListener("change", handler);
  });

  // ---- mRSS body map: click (or Enter/Space) cycles an area's grade blank -> 0 -> 1 -> 2 -> 3 -> blank
  function paintSite(code) {
    var site = document.querySelector('.site[data-site="' + code + '"]');
    var input = document.getElementById("item_" + code);
    if (!site || !input) { return; }
    var v = input.value.trim();
    site.classList.remove("g0", "g1", "g2", "g3");
    if (/^[0-3]$/.test(v)) { site.classList.add("g" + v); }
    var label = site.querySelector("text.grade");
    if (label) { label.textContent = v; }
    var total = 0, complete = true;
    document.querySelectorAll(".site[data-site]").forEach(function (s) {
      var i = document.getElementById("item_" + s.dataset.site);
      var g = i ? i.value.trim() : "";
      if (/^[0-3]$/.test(g)) { total += parseInt(g, 10); } else { complete = false; }
    });
    var out = document.getElementById("mrss-live-total");
    if (out) { out.textContent = complete ? String(total) : "— (" + total + " so far)"; }
  }

  document.querySelectorAll(".site[data-site]").forEach(function (site) {
    var code = site.dataset.site;
    var input = document.getElementById("item_" + code);
    paintSite(code);
    if (!input || input.disabled) { return; }
    var cycle = function () {
      var v = input.value.trim();
      input.value = v === "" ? "0" : (/^[0-2]$/.test(v) ? String(parseInt(v, 10) + 1) : "");
      input.dispatchEvent(new Event("input"));
    };
    site.addEventListener("click", cycle);
    site.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); cycle(); }
    });
  });
})();
