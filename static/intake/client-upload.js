// The client's upload page (templates/portal/upload.html), on top of upload.js:
// - files that cannot be accepted are refused before sending, each with its plain reason,
//   in a list that stays until the client dismisses it (Uppy's own messages vanish after
//   seconds); a refusal by the server (a limit, a closed link) is final, so the file is
//   taken out of the uploader instead of being offered a Retry that cannot help;
// - refusals are kept for this tab (sessionStorage) so the confirmation page lists them;
// - leaving with files chosen but not sent asks first;
// - every size shown is written by intakeFormatBytes (static/intake/sizes.js).
(function () {
  "use strict";
  const uppy = window.intakeUppy;
  const formatBytes = window.intakeFormatBytes;
  const config = JSON.parse(document.getElementById("intake-upload-config").textContent);
  const announcer = document.getElementById("upload-announcer");
  const section = document.getElementById("refusals");
  const list = document.getElementById("refusal-list");
  const finish = document.getElementById("portal-finish");
  const storageKey = `intake-refusals:${config.uppyId}`;

  // --- refusals that stay ------------------------------------------------------------
  function loadRefusals() {
    try { return JSON.parse(sessionStorage.getItem(storageKey)) || []; } catch (_) { return []; }
  }
  function saveRefusals(refusals) {
    try { sessionStorage.setItem(storageKey, JSON.stringify(refusals.slice(-100))); } catch (_) { /* private mode */ }
  }
  function render() {
    const shown = loadRefusals().filter((r) => !r.dismissed);
    list.replaceChildren(...shown.map((r) => {
      const item = document.createElement("li");
      item.className = "refusal";
      const name = document.createElement("span");
      name.className = "filename";
      name.textContent = r.name;
      const reason = document.createElement("span");
      reason.className = "refusal-reason";
      reason.textContent = r.reason;
      const dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "secondary dismiss";
      dismiss.textContent = "Dismiss";
      dismiss.setAttribute("aria-label", `Dismiss the message about ${r.name}`);
      dismiss.addEventListener("click", () => {
        saveRefusals(loadRefusals().map((other) => (other.id === r.id ? { ...other, dismissed: true } : other)));
        render();
        (list.querySelector("button.dismiss") || finish).focus();
      });
      item.append(name, reason, dismiss);
      return item;
    }));
    section.hidden = shown.length === 0;
  }
  function refuse(name, reason) {
    const refusals = loadRefusals();
    refusals.push({ id: `${Date.now()}-${Math.random().toString(36).slice(2)}`, name, reason, dismissed: false });
    saveRefusals(refusals);
    render();
    announcer.textContent = `${name} was not accepted: ${reason}`;
    // Back from "Add more" to the files already chosen, so the Upload button is in reach.
    const dashboard = uppy.getPlugin("Dashboard");
    if (uppy.getFiles().length && dashboard.hideAllPanels) setTimeout(() => dashboard.hideAllPanels(), 0);
  }

  // --- refusing before sending ---------------------------------------------------------
  function typeAccepted(file) {
    const allowed = config.allowedTypes;
    if (!allowed || !allowed.length) return true;
    const type = (file.type || "").replace(/;.*$/, "").toLowerCase();
    const extension = (file.extension || "").toLowerCase();
    return allowed.some((entry) => {
      const wanted = entry.toLowerCase();
      if (wanted.startsWith(".")) return extension === wanted.slice(1);
      if (wanted.endsWith("/*")) return type.startsWith(wanted.slice(0, -1));
      return type === wanted;
    });
  }
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  // Files sent from this page since it was loaded use up the allowance the page started
  // with, whether or not they are still listed in the uploader.
  const sentHere = new Map(); // file id -> size
  uppy.on("upload-success", (file) => { if (file) sentHere.set(file.id, file.size || 0); showAllowance(); });
  function counted(files, except) {
    const listed = Object.values(files).filter((f) => !f.isGhost && f.id !== except && !sentHere.has(f.id));
    return {
      files: listed.length + sentHere.size,
      bytes: listed.reduce((sum, f) => sum + (f.size || 0), 0) + [...sentHere.values()].reduce((a, b) => a + b, 0),
    };
  }
  const allowanceText = document.querySelector("#allowance strong");
  function showAllowance() {
    if (!allowanceText) return;
    const sent = counted({}, null);
    const parts = [];
    if (config.bytesLeft !== null) parts.push(formatBytes(Math.max(config.bytesLeft - sent.bytes, 0)));
    if (config.maxNumberOfFiles !== null) parts.push(plural(Math.max(config.maxNumberOfFiles - sent.files, 0), "file"));
    allowanceText.textContent = `${parts.join(" and ")} left`;
  }

  function whyNot(file, files) {
    if (!typeAccepted(file)) return `This kind of file is not accepted here. Accepted: ${config.allowedTypes.join(", ")}.`;
    if (config.maxFileSize && file.size > config.maxFileSize) {
      return `It is ${formatBytes(file.size)}; one file can be at most ${formatBytes(config.maxFileSize)}.`;
    }
    const others = counted(files, file.id);
    if (config.maxNumberOfFiles !== null && others.files + 1 > config.maxNumberOfFiles) {
      return config.maxNumberOfFiles === 0
        ? "This link has received all the files it accepts."
        : `This link accepts only ${plural(config.maxNumberOfFiles, "more file")}, and that many are chosen or sent already.`;
    }
    if (config.bytesLeft !== null && file.size != null && others.bytes + file.size > config.bytesLeft) {
      const left = formatBytes(Math.max(config.bytesLeft - others.bytes, 0));
      return `It is ${formatBytes(file.size)}, but only ${left} of this link's total is left${others.bytes ? " after the files chosen or sent already" : ""}.`;
    }
    return null;
  }

  uppy.setOptions({
    onBeforeFileAdded(file, files) {
      if (file.isGhost || files[file.id]) return true; // a restored file; a duplicate (Uppy says so)
      const reason = whyNot(file, files);
      if (reason) {
        refuse(file.name, reason);
        return false;
      }
      return true;
    },
  });

  // A refusal by the server is final: list it and take the file out (no Retry).
  uppy.on("upload-error", (file, error) => {
    if (!file || !error || !error.final) return;
    refuse(file.name, error.message);
    setTimeout(() => { if (uppy.getFile(file.id)) uppy.removeFile(file.id); }, 0);
  });

  // --- sizes the one way -------------------------------------------------------------
  // Uppy's file cards and status bar write sizes in decimal MB; the cards are rewritten
  // and the status bar's byte counts replaced by a line of our own.
  uppy.getPlugin("Dashboard").setOptions({ showProgressDetails: false });
  const uploader = document.getElementById("uploader");
  const progress = document.createElement("p");
  progress.className = "hint upload-progress";
  progress.id = "upload-progress";
  uploader.after(progress);
  function rewriteSizes() {
    uploader.querySelectorAll(".uppy-Dashboard-Item").forEach((item) => {
      const size = item.querySelector(".uppy-Dashboard-Item-statusSize");
      const file = size && uppy.getFile(item.id.replace(/^uppy_/, ""));
      const text = file ? formatBytes(file.size) : null;
      if (text && size.textContent !== text) size.textContent = text;
    });
  }
  new MutationObserver(rewriteSizes).observe(uploader, { childList: true, subtree: true, characterData: true });
  function showProgress() {
    const sending = uppy.getFiles().filter((f) => f.progress && f.progress.uploadStarted && !f.progress.uploadComplete);
    if (!sending.length) {
      progress.textContent = "";
      return;
    }
    const total = sending.reduce((sum, f) => sum + (f.size || 0), 0);
    const sent = sending.reduce((sum, f) => sum + (f.progress.bytesUploaded || 0), 0);
    progress.textContent = `Sent ${formatBytes(sent)} of ${formatBytes(total)}.`;
  }
  uppy.on("progress", showProgress);
  uppy.on("complete", showProgress);

  // --- leaving with files not sent -----------------------------------------------------
  const unsent = () => uppy.getFiles().filter((f) => !(f.progress && f.progress.uploadComplete));
  let leaving = false;
  window.addEventListener("beforeunload", (event) => {
    if (leaving || !unsent().length) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers need it set
  });
  finish.addEventListener("click", (event) => {
    const waiting = unsent().length;
    if (!waiting) return;
    const question = `${plural(waiting, "file")} ${waiting === 1 ? "is" : "are"} chosen but not sent. Leave without sending ${waiting === 1 ? "it" : "them"}?`;
    if (window.confirm(question)) {
      leaving = true;
    } else {
      event.preventDefault();
    }
  });

  render();
})();
