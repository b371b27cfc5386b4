// PlantKeeper dashboard: refreshes a [data-refresh] element from its JSON endpoint.
// The server renders and escapes the HTML; this script only swaps it in.
"use strict";
(function () {
  var box = document.querySelector("[data-refresh]");
  if (!box || !window.fetch) return;
  var every = (parseInt(box.getAttribute("data-every"), 10) || 5) * 1000;
  var url = box.getAttribute("data-refresh");
  function refresh() {
    if (document.hidden) { setTimeout(refresh, every); return; }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); throw new Error("logged out"); }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (body) {
        box.innerHTML = body.html;
        box.removeAttribute("data-offline");
        setTimeout(refresh, every);
      })
      .catch(function () {
        box.setAttribute("data-offline", "true");
        setTimeout(refresh, every * 2);
      });
  }
  setTimeout(refresh, every);
})();
// Settings editor: show the caret's line and column, as the check's messages name them.
(function () {
  var text = document.getElementById("settings-text");
  var caret = document.getElementById("caret");
  if (!text || !caret) return;
  function show() {
    var before = text.value.slice(0, text.selectionStart).split("\n");
    caret.textContent = "line " + before.length + ", column " + (before[before.length - 1].length + 1);
  }
  ["keyup", "click", "focus", "input"].forEach(function (name) { text.addEventListener(name, show); });
})();
