// The back office's only script; every page works without it.
// A form with data-confirm asks before it is sent.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// The header's disclosure menus (<details>: they open by click, Enter or Space on their own). Added here: their
// summary says aria-expanded, one menu is open at a time, Escape or a click elsewhere closes it, and on a phone
// the sections fold behind the Menu button (admin.css, html.js).
(function () {
  document.documentElement.classList.add("js");
  var menus = function () { return document.querySelectorAll("header.top details"); };
  var mark = function (details) {
    var summary = details.querySelector("summary");
    if (summary) { summary.setAttribute("aria-expanded", details.open ? "true" : "false"); }
  };
  var closeAll = function (except) {
    menus().forEach(function (d) { if (d !== except && d.open) { d.open = false; } });
  };
  document.addEventListener("DOMContentLoaded", function () {
    menus().forEach(function (d) {
      mark(d);
      d.addEventListener("toggle", function () {
        mark(d);
        if (d.open) { closeAll(d); }
      });
    });
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("main-nav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var open = document.querySelector("header.top details[open]");
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("header.top details")) { closeAll(null); }
  });
})();
