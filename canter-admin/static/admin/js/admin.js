// canter admin: the change list's "select all" box and selection counter. The pages work
// without it (every control is a plain form control).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.getElementById("action-toggle");
  const boxes = Array.from(document.querySelectorAll("input.action-select"));
  const counter = document.querySelector(".action-counter");
  const update = () => {
    const n = boxes.filter((b) => b.checked).length;
    boxes.forEach((b) => b.closest("tr").classList.toggle("selected", b.checked));
    if (counter) counter.textContent = `${n} of ${boxes.length} selected`;
    if (toggle) {
      toggle.checked = n > 0 && n === boxes.length;
      toggle.indeterminate = n > 0 && n < boxes.length;
    }
  };
  if (toggle) {
    toggle.addEventListener("change", () => {
      boxes.forEach((b) => { b.checked = toggle.checked; });
      update();
    });
  }
  boxes.forEach((b) => b.addEventListener("change", update));
  update();
  // The delete confirmation's "No, take me back" returns to the page before.
  document.querySelectorAll("a.cancel-link").forEach((a) => {
    a.addEventListener("click", (e) => {
      if (window.history.length > 1) { e.preventDefault(); window.history.back(); }
    });
  });
  // "/" focuses the search box (outside text fields), as on many admin sites.
  const search = document.getElementById("searchbar");
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (search && e.key === "/" && !typing) { e.preventDefault(); search.focus(); }
  });
});
