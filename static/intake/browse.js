// The file list (templates/dashboard/uploads/list.html). A long search's totals line
// loads after its rows (ADR 0015). When that request fails (an error answer, or no
// answer), the line says so and links the count again, instead of "Counting the
// files…" for ever; the announcement for screen readers says it too.
(function () {
  "use strict";
  function countFailed(event) {
    var counting = event.detail && event.detail.elt;
    if (!counting || !counting.matches || !counting.matches("[data-counting]")) return;
    var again = document.createElement("a");
    again.href = counting.getAttribute("hx-get");
    again.textContent = "Count them again";
    counting.textContent = "The files could not be counted. ";
    counting.appendChild(again);
    counting.removeAttribute("data-counting");
    counting.setAttribute("data-count-failed", "");
    var status = document.getElementById("browse-status");
    if (status) status.textContent = "The files could not be counted.";
  }
  document.body.addEventListener("htmx:responseError", countFailed);
  document.body.addEventListener("htmx:sendError", countFailed);
})();
