// The SMS text editor's live count: while the owner types, the server (store_server/messaging/sms/segments.py, the same
// count the message log records) says how many parts the text costs and what is wrong with it.
(function () {
  var form = document.getElementById("template-form");
  if (!form) { return; }
  var area = form.querySelector("textarea"), timer = null, asked = 0;
  function show(answer) {
    document.getElementById("sample").textContent = answer.sample;
    var count = document.getElementById("count");
    count.textContent = answer.summary;
    count.setAttribute("data-parts", answer.parts);
    document.getElementById("costly").hidden = answer.parts < 2;
    var problem = document.getElementById("problem");
    if (!problem) {
      problem = document.createElement("p");
      problem.id = "problem";
      problem.className = "notice error";
      problem.setAttribute("role", "alert");
      form.parentNode.insertBefore(problem, form);
    }
    problem.textContent = answer.problem || "";
    problem.hidden = !answer.problem;
  }
  function ask() {
    var mine = ++asked;
    fetch(form.getAttribute("data-count"), {method: "POST", body: new FormData(form), credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer && mine === asked) { show(answer); } })
      .catch(function () {});
  }
  area.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 150); });
}());
