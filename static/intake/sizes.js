// The one way Intake shows a number of bytes (the same rule as uploader/uploads/sizes.py):
// "1 byte", "900 bytes", "1 KiB", "12.5 MiB", "2 GiB". Exposed as window.intakeFormatBytes,
// and as module.exports for the parity test under Node.
(function (root) {
  "use strict";
  var UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

  function formatBytes(size) {
    if (size === null || size === undefined || isNaN(size)) return "";
    size = Math.max(0, Math.trunc(Number(size)));
    if (size < 1024) return size === 1 ? "1 byte" : size + " bytes";
    var value = size;
    var unit = "";
    for (var i = 0; i < UNITS.length; i++) {
      unit = UNITS[i];
      value /= 1024;
      var rounded = Math.floor(value * 10 + 0.5) / 10;
      if (rounded < 1024 || i === UNITS.length - 1) {
        value = rounded;
        break;
      }
    }
    var text = value.toFixed(1).replace(/\.0$/, "");
    return text + " " + unit;
  }

  root.intakeFormatBytes = formatBytes;
  if (typeof module !== "undefined" && module.exports) module.exports = formatBytes;
})(typeof window !== "undefined" ? window : globalThis);
