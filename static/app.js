// Firewatch: progressive enhancement only. Pages work without this script.
(function () {
  "use strict";
  var body = document.body;
  var every = parseInt(body.getAttribute("data-autorefresh") || "0", 10);
  var KEY = "firewatch.autorefresh.paused";

  function paused() { return localStorage.getItem(KEY) === "1"; }

  function drawControls() {
    document.querySelectorAll("[data-refresh-control]").forEach(function (el) {
      el.textContent = "";
      var label = document.createElement("span");
      label.textContent = paused() ? "Auto-refresh paused" : "Refreshes every " + every + " s";
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "btn btn-sm btn-ghost";
      btn.textContent = paused() ? "Resume" : "Pause";
      btn.setAttribute("aria-pressed", paused() ? "true" : "false");
      btn.addEventListener("click", function () {
        localStorage.setItem(KEY, paused() ? "0" : "1");
        drawControls();
      });
      el.appendChild(label);
      el.appendChild(btn);
    });
  }

  function busy() {
    var a = document.activeElement;
    if (a && (a.tagName === "TEXTAREA" || a.tagName === "INPUT" || a.tagName === "SELECT")) return true;
    var open = document.querySelector("details[open]");
    return !!open || Array.prototype.some.call(document.querySelectorAll("textarea"), function (t) { return t.value !== ""; });
  }

  function refresh() {
    if (paused() || document.hidden || busy()) return;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok && !r.redirected ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main.page");
        var current = document.querySelector("main.page");
        if (fresh && current && !busy()) {
          current.innerHTML = fresh.innerHTML;
          enhance();
        }
      })
      .catch(function () { /* keep the page as it is; try again next time */ });
  }

  function enhance() {
    drawControls();
    document.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) t.title = d.toLocaleString();
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
  }

  enhance();
  if (every > 0) setInterval(refresh, every * 1000);
})();
