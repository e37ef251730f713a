// canter's operations page: sections replaced from the server's stream of updates; actions
// posted with the CSRF token. Every value in the sections was escaped by the server.
(function () {
  "use strict";
  const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const live = document.getElementById("ops-live");
  const result = document.getElementById("ops-result");

  function show(text) {
    result.hidden = false;
    result.textContent = text;
  }

  function connect() {
    const source = new EventSource(base + "stream/");
    source.addEventListener("board", function (event) {
      const update = JSON.parse(event.data);
      for (const [id, html] of Object.entries(update.sections)) {
        const element = document.getElementById("ops-" + id);
        if (element) element.innerHTML = html;
      }
      document.getElementById("ops-problems").innerHTML = update.problems;
      live.textContent = "live · " + new Date(update.at * 1000).toLocaleTimeString();
      live.dataset.updates = String(Number(live.dataset.updates || 0) + 1);
    });
    source.onerror = function () {
      live.textContent = "reconnecting…";
    };
  }

  async function post(action) {
    const response = await fetch(base + action, {
      method: "POST",
      headers: { "X-CSRFToken": token },
      credentials: "same-origin",
    });
    show(JSON.stringify(await response.json(), null, 2));
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.hasAttribute("data-ops-action")) {
      event.preventDefault();
      post(form.getAttribute("action"));
    } else if (form.id === "ops-search") {
      event.preventDefault();
      const id = encodeURIComponent(form.elements.id.value.trim());
      fetch(base + "api/tasks/" + id + "/", { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (body) { show(JSON.stringify(body, null, 2)); });
    }
  });

  document.getElementById("ops-revoke").addEventListener("click", function () {
    const id = document.querySelector("#ops-search input[name=id]").value.trim();
    if (id) post("api/tasks/" + encodeURIComponent(id) + "/revoke/");
  });

  connect();
})();
