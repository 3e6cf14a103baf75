// Staff portal page: copy the portal's link. The link is also in a read-only field,
// so it can be selected and copied by hand where the clipboard API is unavailable.
(function () {
  "use strict";
  const status = document.getElementById("copy-status");
  document.querySelectorAll("[data-copy-target]").forEach((button) => {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copyTarget);
      try {
        await navigator.clipboard.writeText(field.value);
        status.textContent = "Link copied.";
      } catch (_) {
        field.focus();
        field.select();
        status.textContent = "Press Ctrl+C (or Cmd+C) to copy the selected link.";
      }
    });
  });
})();
