// The import's progress bar: asks the server every half second until the job has ended, then shows the page
// again with the outcome.
(function () {
  var job = document.getElementById("job");
  if (!job || job.getAttribute("data-status") !== "running") { return; }
  var bar = document.getElementById("bar");
  function poll() {
    fetch(job.getAttribute("data-progress"), {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (p && p.status !== "running") { window.location.reload(); return; }
        if (p && p.total) { bar.max = p.total; bar.value = p.done; }
        setTimeout(poll, 500);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
}());
