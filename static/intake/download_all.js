// "Download all" on a portal's download page (templates/dashboard/portals/download_all.html):
// follows each signed link in turn from a hidden frame, a second apart, so the browser
// saves every file (each link answers with Content-Disposition: attachment). Without
// JavaScript the list of links is still there to click.
(function () {
  "use strict";
  var button = document.querySelector("[data-download-all-start]");
  var status = document.getElementById("download-all-status");
  var links = Array.prototype.slice.call(document.querySelectorAll("[data-download-link]"));
  if (!button || !links.length) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    var index = 0;
    function next() {
      if (index >= links.length) {
        status.textContent = "All " + links.length + " downloads started.";
        button.disabled = false;
        return;
      }
      var frame = document.createElement("iframe");
      frame.hidden = true;
      frame.setAttribute("data-download-frame", "");
      frame.src = links[index].href;
      document.body.appendChild(frame);
      index += 1;
      status.textContent = "Started " + index + " of " + links.length + " downloads.";
      window.setTimeout(next, 1000);
    }
    next();
  });
})();
