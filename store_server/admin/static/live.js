// A form with data-live="URL" and data-target="ID" shows what it would answer while it is typed in: its fields
// go to URL as a query, and the HTML fragment that comes back replaces the target's content. Without
// JavaScript the form still works by submitting.
(function () {
  var timers = new WeakMap();
  function refresh(form) {
    var query = new URLSearchParams(new FormData(form)).toString();
    fetch(form.getAttribute("data-live") + "?" + query, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) { document.getElementById(form.getAttribute("data-target")).innerHTML = html; }
      });
  }
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (!form || !form.hasAttribute("data-live")) { return; }
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(function () { refresh(form); }, 250));
  });
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-live")) { refresh(form); }
  });
})();
