// vbr pages: keyboard shortcuts for reviewing (documented on the page). Everything works without it.
(function () {
  "use strict";
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function cards() { return Array.prototype.slice.call(document.querySelectorAll(".score-card")); }
  function current() {
    var list = cards(), active = document.activeElement;
    for (var i = 0; i < list.length; i++) { if (list[i] === active || list[i].contains(active)) return i; }
    return -1;
  }
  function focusCard(i) {
    var list = cards();
    if (!list.length) return;
    i = Math.max(0, Math.min(list.length - 1, i));
    list[i].focus();
    list[i].scrollIntoView({ block: "start" });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (location.hash.length > 1) {
      var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target && target.classList.contains("score-card")) target.focus();
    }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    var i = current(), list = cards(), link;
    switch (ev.key) {
      case "j": focusCard(i + 1); break;
      case "k": focusCard(i < 0 ? 0 : i - 1); break;
      case "a":
        if (i < 0) return;
        var accept = list[i].querySelector("[data-accept]");
        if (accept) accept.click(); else return;
        break;
      case "c":
        if (i < 0) return;
        var details = list[i].querySelector("details.override");
        if (!details) return;
        details.open = true;
        details.querySelector("select").focus();
        break;
      case "n": case "p":
        link = document.querySelector('[data-key="' + ev.key + '"]');
        if (link) link.click(); else return;
        break;
      case "?":
        var help = document.getElementById("shortcuts");
        if (help) { help.open = !help.open; help.querySelector("summary").focus(); } else return;
        break;
      default: return;
    }
    ev.preventDefault();
  });
})();
