// The confirmation page (templates/portal/done.html): files this browser refused before
// sending them never reached the server, so client-upload.js kept them for this tab;
// list them under "Not accepted" beside the ones the server refused.
(function () {
  "use strict";
  const { storageKey } = JSON.parse(document.getElementById("done-config").textContent);
  let refusals = [];
  try { refusals = JSON.parse(sessionStorage.getItem(storageKey)) || []; } catch (_) { /* none */ }
  const section = document.getElementById("done-refused");
  const list = section.querySelector("ul");
  // Named once: a file refused earlier and then sent again (say, smaller) is not refused now.
  const listed = new Set(Array.from(document.querySelectorAll("li[data-filename]"), (li) => li.dataset.filename));
  for (const refusal of refusals) {
    if (listed.has(refusal.name)) continue;
    listed.add(refusal.name);
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "filename";
    name.textContent = refusal.name;
    const reason = document.createElement("span");
    reason.className = "refusal-reason";
    reason.textContent = refusal.reason;
    item.append(name, " ", reason);
    list.append(item);
  }
  section.hidden = list.children.length === 0;
})();
