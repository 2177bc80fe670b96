// Firewatch: progressive enhancement only. Pages work without this script.
(function () {
  "use strict";
  var body = document.body;
  var every = parseInt(body.getAttribute("data-autorefresh") || "0", 10);
  var KEY = "firewatch.autorefresh.paused";

  function paused() { return localStorage.getItem(KEY) === "1"; }

  // One polite live region (in the layout) says what changed without moving focus.
  function announce(text) {
    var live = document.getElementById("announce");
    if (!live) return;
    live.textContent = "";
    // A fresh text node after a tick is announced even when the words repeat.
    setTimeout(function () { live.textContent = text; }, 50);
  }

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
      btn.setAttribute("data-focus-key", "refresh-control");
      btn.addEventListener("click", function () {
        localStorage.setItem(KEY, paused() ? "0" : "1");
        drawControls();
        announce(paused() ? "Auto-refresh paused" : "Auto-refresh resumed");
        var again = document.querySelector("[data-focus-key=refresh-control]");
        if (again) again.focus();
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

  // What identifies the focused control across a refresh: its explicit key or id, else
  // its link target or form and its text (the n-th such element); matched in the fresh page.
  function focusKey(el) {
    if (!el || el === document.body || el === document.documentElement) return null;
    if (el.getAttribute("data-focus-key")) return "[data-focus-key=\"" + el.getAttribute("data-focus-key") + "\"]";
    if (el.id) return "#" + CSS.escape(el.id);
    var tag = el.tagName.toLowerCase();
    var selector = tag === "a" && el.getAttribute("href") ? "a[href=\"" + CSS.escape(el.getAttribute("href")) + "\"]"
      : el.form && el.form.getAttribute("action") ? "form[action=\"" + CSS.escape(el.form.getAttribute("action")) + "\"] " + tag
      : tag;
    var text = (el.textContent || "").trim();
    var index = sameText(selector, text).indexOf(el);
    return index < 0 ? null : { selector: selector, text: text, index: index };
  }

  function sameText(selector, text) {
    return Array.prototype.filter.call(document.querySelectorAll(selector), function (c) {
      return (c.textContent || "").trim() === text;
    });
  }

  function findByKey(key) {
    if (!key) return null;
    if (typeof key === "string") return document.querySelector(key);
    return sameText(key.selector, key.text)[key.index] || null;
  }

  function refresh() {
    if (paused() || document.hidden || busy()) return;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok && !r.redirected ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main.page");
        var current = document.querySelector("main.page");
        if (!fresh || !current || busy() || fresh.innerHTML === lastHtml) return;
        // Keep the reader where they are: focus, and the scroll position.
        var key = current.contains(document.activeElement) ? focusKey(document.activeElement) : null;
        var x = window.scrollX, y = window.scrollY;
        lastHtml = fresh.innerHTML;
        current.innerHTML = lastHtml;
        enhance();
        var again = findByKey(key);
        if (again) again.focus({ preventScroll: true });
        window.scrollTo(x, y);
        announce("Page updated");
      })
      .catch(function () { /* keep the page as it is; try again next time */ });
  }

  function enhance() {
    drawControls();
    document.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) t.title = d.toLocaleString();
    });
  }

  // A copy button on every command block of a runbook (clipboard needs a secure
  // context or localhost; without it the button is not drawn).
  function copyButtons() {
    if (!navigator.clipboard) return;
    document.querySelectorAll(".runbook pre").forEach(function (pre) {
      if (pre.querySelector(".copy")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm copy";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy this command");
      button.addEventListener("click", function () {
        var code = pre.querySelector("code") || pre;
        navigator.clipboard.writeText(code.textContent).then(function () {
          button.textContent = "Copied";
          announce("Copied to the clipboard");
          setTimeout(function () { button.textContent = "Copy"; }, 2000);
        });
      });
      pre.appendChild(button);
    });
  }
  copyButtons();

  // The page as the server sent it, to tell whether a refresh brings anything new.
  var main = document.querySelector("main.page");
  var lastHtml = main ? main.innerHTML : "";
  enhance();
  // The outcome of the action that led here ("Acknowledged."), said once, then dropped
  // from the address so a reload does not repeat it.
  var done = document.querySelector("[data-announce]");
  if (done) {
    announce(done.textContent.trim());
    var url = new URL(location.href);
    if (url.searchParams.has("done")) {
      url.searchParams.delete("done");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
  }
  if (every > 0) setInterval(refresh, every * 1000);

  // "Print" buttons, and selects that show what they pick at once (reports' revisions).
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  // Printing shows every detail (a report's daily tables).
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("main details").forEach(function (d) { d.open = true; });
  });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
})();
