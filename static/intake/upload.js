// Upload pages (staff, and client portals): Uppy (vendored v5) speaking Intake's
// Companion-compatible API at `config.endpoint` (/api for staff, /p/<token>/api for a
// portal). Bytes go straight to S3; Django only signs and records. See docs/architecture.md.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("intake-upload-config").textContent);
  const { Uppy, Dashboard, AwsS3, GoldenRetriever } = window.Uppy;
  const announcer = document.getElementById("upload-announcer");

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // Every byte is checksummed in the browser (MD5, read in slices so a big file or
  // part is never held twice) and the digest is signed into its URL as Content-MD5:
  // S3 refuses bytes that changed on the way, and the server compares a single
  // upload's ETag with the digest again once it is stored (uploader/uploads/checksums.py).
  const HASH_SLICE_BYTES = 4 * 1024 * 1024;
  async function contentMD5(blob, signal) {
    const hasher = await window.hashwasm.createMD5();
    hasher.init();
    for (let offset = 0; offset < blob.size; offset += HASH_SLICE_BYTES) {
      if (signal && signal.aborted) throw new DOMException("The upload was cancelled.", "AbortError");
      hasher.update(new Uint8Array(await blob.slice(offset, offset + HASH_SLICE_BYTES).arrayBuffer()));
    }
    return btoa(String.fromCharCode(...hasher.digest("binary")));
  }

  // A GET to the contract, with the CSRF token (GETs sign and register here: ADR 0004);
  // the server's own message when it refuses.
  async function askServer(path, signal) {
    const response = await fetch(`${config.endpoint}${path}`, {
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      credentials: "same-origin",
      signal,
    });
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) throw new Error((body && body.message) || `The server refused the request (${response.status}).`);
    return body;
  }

  function announce(text) {
    // Screen readers hear progress milestones, not every percent.
    announcer.textContent = text;
  }

  const uppy = new Uppy({
    // Golden Retriever keeps its state per id: each portal resumes its own files.
    id: config.uppyId || "intake-staff",
    autoProceed: false,
    restrictions: {
      maxFileSize: config.maxFileSize,
      allowedFileTypes: config.allowedTypes,
      maxNumberOfFiles: config.maxNumberOfFiles || null,
    },
  })
    .use(Dashboard, {
      inline: true,
      target: "#uploader",
      width: "100%",
      height: 420,
      showProgressDetails: true,
      proudlyDisplayPoweredByUppy: false,
      showRemoveButtonAfterComplete: true,
    })
    .use(AwsS3, {
      endpoint: config.endpoint,
      headers: { "X-CSRFToken": csrfToken() },
      shouldUseMultipart: (file) => file.size >= config.multipartThreshold,
      getChunkSize: () => config.partSize,
      // The two signing calls carry the MD5 of what is about to be sent; the other
      // calls are the Companion-compatible defaults at `endpoint`.
      async getUploadParameters(file, options) {
        const signal = options && options.signal;
        const query = new URLSearchParams({
          filename: file.name,
          type: file.type || "",
          "metadata[size]": String(file.size),
          md5: await contentMD5(file.data, signal),
        });
        return askServer(`/s3/params?${query}`, signal);
      },
      async signPart(file, { uploadId, key, partNumber, body, signal }) {
        const query = new URLSearchParams({ key, md5: await contentMD5(body, signal) });
        return askServer(`/s3/multipart/${encodeURIComponent(uploadId)}/${partNumber}?${query}`, signal);
      },
      limit: 6,
      retryDelays: [0, 1000, 3000, 5000],
    })
    // Keeps files (up to 512 MiB in IndexedDB) and multipart state across a reload;
    // a resumed multipart upload asks the server which parts S3 already has.
    .use(GoldenRetriever, { indexedDB: { maxFileSize: 512 * 1024 * 1024, maxTotalSize: 1024 * 1024 * 1024 } });

  // The server checks the declared size before signing and binds it into the URL.
  uppy.on("file-added", (file) => uppy.setFileMeta(file.id, { size: file.size }));

  // Single-request uploads have no "complete" call in the Companion contract: tell
  // the server, which HEADs the object and records it (or refuses it).
  uppy.addPostProcessor(async (fileIDs) => {
    for (const id of fileIDs) {
      const file = uppy.getFile(id);
      if (!file || file.error || !file.response || !file.response.body) continue;
      const multipart = file.s3Multipart && file.s3Multipart.uploadId;
      if (multipart) continue;
      uppy.emit("postprocess-progress", file, { mode: "indeterminate", message: "Checking the stored file" });
      const response = await fetch(
        `${config.endpoint}/s3/complete?key=${encodeURIComponent(file.response.body.key)}`,
        { method: "POST", headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin" },
      );
      if (!response.ok) {
        let message = `The server refused the file (${response.status}).`;
        try { message = (await response.json()).message || message; } catch (_) { /* not JSON */ }
        uppy.emit("upload-error", file, new Error(message));
      }
      uppy.emit("postprocess-complete", file);
    }
  });

  uppy.on("upload", () => announce("Upload started."));
  uppy.on("upload-error", (file, error) => announce(`${file.name} failed: ${error.message}`));
  uppy.on("complete", (result) => {
    announce(`${result.successful.length} uploaded, ${result.failed.length} failed.`);
    document.body.dispatchEvent(new CustomEvent("intake:uploaded"));
  });
  window.intakeUppy = uppy; // for diagnostics and the browser tests
})();
