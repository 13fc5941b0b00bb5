// The result page: waits for the assessment, then the slider, flicker and overlay switches.
(function () {
  "use strict";
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.form.addEventListener("submit", function (e) {
      if (!window.confirm(button.dataset.confirm)) e.preventDefault();
    });
  });
  const pending = document.getElementById("pending");
  if (pending) {
    const url = pending.dataset.statusUrl;
    const timer = setInterval(function () {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (body && (body.status === "done" || body.status === "failed")) {
            clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () {});
    }, 250);
    return;
  }
  const compare = document.getElementById("compare");
  if (!compare) return;
  const after = document.getElementById("after-layer");
  const divider = document.getElementById("divider");
  const slider = document.getElementById("slider");
  const flicker = document.getElementById("flicker");

  function place() {
    const v = Number(slider.value);
    after.style.clipPath = "inset(0 0 0 " + v + "%)";
    divider.style.left = v + "%";
  }
  slider.addEventListener("input", place);
  place();

  function toggleFlicker() {
    const on = compare.classList.toggle("flicker");
    flicker.setAttribute("aria-pressed", String(on));
  }
  flicker.addEventListener("click", toggleFlicker);
  let showingAfter = true;
  setInterval(function () {
    if (!compare.classList.contains("flicker")) return;
    showingAfter = !showingAfter;
    compare.classList.toggle("flicker-before", !showingAfter);
  }, 700);
  document.addEventListener("keydown", function (e) {
    const typing = e.target.closest("input:not([type=range]):not([type=checkbox]), select, textarea");
    if ((e.key === "f" || e.key === "F") && !typing && !e.ctrlKey && !e.metaKey) toggleFlicker();
  });
  // region names sit on their outlines (placed here: the page's policy allows no inline styles)
  compare.querySelectorAll(".region-label").forEach(function (label) {
    label.style.left = label.dataset.x + "%";
    label.style.top = label.dataset.y + "%";
  });
  document.querySelectorAll("input[data-toggle]").forEach(function (box) {
    box.addEventListener("change", function () {
      compare.querySelectorAll('[data-layer="' + box.dataset.toggle + '"]').forEach(function (img) {
        img.hidden = !box.checked;
      });
    });
  });
})();
