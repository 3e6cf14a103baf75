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
  // Each read of a slice is a round trip to the browser process: 16 MiB slices cost
  // about 0.7 ms less CPU per MiB than 4 MiB ones (docs/benchmarks.md, benchmark 6).
  const HASH_SLICE_BYTES = 16 * 1024 * 1024;
  const cancelled = () => new DOMException("The upload was cancelled.", "AbortError");
  const base64 = (bytes) => btoa(String.fromCharCode(...bytes));

  async function md5InPage(blob, signal) {
    const hasher = await window.hashwasm.createMD5();
    hasher.init();
    for (let offset = 0; offset < blob.size; offset += HASH_SLICE_BYTES) {
      if (signal && signal.aborted) throw cancelled();
      hasher.update(new Uint8Array(await blob.slice(offset, offset + HASH_SLICE_BYTES).arrayBuffer()));
    }
    return base64(hasher.digest("binary"));
  }

  // Hashing runs in Workers, HASH_WORKERS parts at a time, each worker reading its part
  // itself (a Blob is posted by reference): the page's thread stays free for Uppy and
  // the requests during a big upload, and spare cores hash in parallel. Where workers
  // cannot start, the page hashes.
  const HASH_WORKERS = 2;
  function startHashWorker() {
    const script = document.querySelector('script[src*="hash-wasm"]');
    if (!script || typeof Worker === "undefined") return null;
    const code = `importScripts(${JSON.stringify(script.src)});
      const ready = hashwasm.createMD5();
      onmessage = async ({ data: { id, blob, slice } }) => {
        try {
          const hasher = await ready;
          hasher.init();
          const reader = new FileReaderSync();
          for (let offset = 0; offset < blob.size; offset += slice) {
            hasher.update(new Uint8Array(reader.readAsArrayBuffer(blob.slice(offset, offset + slice))));
          }
          postMessage({ id, digest: hasher.digest("binary") });
        } catch (error) {
          postMessage({ id, error: String(error) });
        }
      };`;
    let worker;
    try {
      worker = new Worker(URL.createObjectURL(new Blob([code], { type: "text/javascript" })));
    } catch (_) {
      return null;
    }
    const waiting = new Map();
    let nextId = 0;
    let broken = false;
    worker.onmessage = ({ data }) => {
      const { resolve, reject } = waiting.get(data.id);
      waiting.delete(data.id);
      if (data.error) reject(new Error(data.error));
      else resolve(base64(data.digest));
    };
    worker.onerror = () => { // e.g. hash-wasm did not load in the worker
      broken = true;
      for (const { reject } of waiting.values()) reject(new Error("The hashing worker failed."));
      waiting.clear();
    };
    return (blob) => broken
      ? Promise.reject(new Error("The hashing worker failed."))
      : new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, blob, slice: HASH_SLICE_BYTES });
      });
  }
  const hashWorkers = Array.from({ length: HASH_WORKERS }, startHashWorker).filter(Boolean);
  let nextWorker = 0;
  function contentMD5(blob, signal) {
    if (signal && signal.aborted) return Promise.reject(cancelled());
    if (!hashWorkers.length) return md5InPage(blob, signal);
    const worker = hashWorkers[nextWorker++ % hashWorkers.length];
    return worker(blob).catch(() => md5InPage(blob, signal));
  }

  // Parts are hashed in order, up to HASH_AHEAD_PARTS ahead of the part being signed and
  // HASH_WORKERS at a time, so the next parts are hashed while earlier ones upload and a
  // signing call (which holds one of Uppy's `limit` request slots) rarely waits.
  const HASH_AHEAD_PARTS = 6;
  const partDigests = new Map(); // file id -> Map(part number -> Promise of its base64 MD5)
  const hashJobs = [];
  let hashing = 0;
  function runHashJobs() {
    while (hashing < Math.max(1, hashWorkers.length) && hashJobs.length) {
      const job = hashJobs.shift();
      hashing += 1;
      job().finally(() => {
        hashing -= 1;
        runHashJobs();
      });
    }
  }
  function queueHash(file, partNumber, blob, signal) {
    let digests = partDigests.get(file.id);
    if (!digests) partDigests.set(file.id, (digests = new Map()));
    let promise = digests.get(partNumber);
    if (!promise) {
      promise = new Promise((resolve, reject) => {
        hashJobs.push(() => contentMD5(blob, signal).then(resolve, reject));
        runHashJobs();
      });
      digests.set(partNumber, promise);
      promise.catch(() => digests.delete(partNumber)); // a retry hashes again
    }
    return promise;
  }
  function partMD5(file, partNumber, body, signal) {
    const own = queueHash(file, partNumber, body, signal);
    // Every part but the last is partSizeOf(file) long (Uppy cuts the file with it), so
    // the next parts' bytes are known; anything else is hashed only when signed.
    const partSize = partSizeOf(file);
    for (let next = partNumber + 1; body.size === partSize && next <= partNumber + HASH_AHEAD_PARTS; next++) {
      const start = (next - 1) * partSize;
      if (start >= file.size) break;
      queueHash(file, next, file.data.slice(start, Math.min(file.size, start + partSize)), signal);
    }
    return own.finally(() => partDigests.get(file.id)?.delete(partNumber));
  }

  // Big files get bigger parts, about PARTS_PER_FILE of them, between config.partSize
  // and MAX_PART_BYTES: each part costs a signing call, a CORS preflight and a request
  // (1 GiB in 16 MiB parts went about 20% faster than in 8 MiB ones). The server is
  // told the size (metadata partSize) and binds it into every part URL.
  const MiB = 1024 * 1024;
  const PARTS_PER_FILE = 64;
  const MAX_PART_BYTES = 64 * MiB;
  function partSizeOf(file) {
    const wanted = Math.min(Math.ceil(file.size / PARTS_PER_FILE / MiB) * MiB, MAX_PART_BYTES);
    return Math.max(config.partSize, wanted, Math.ceil(file.size / 10000)); // S3: at most 10,000 parts
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
    if (!response.ok) {
      throw refusal((body && body.message) || `The server refused the request (${response.status}).`, response.status, body);
    }
    return body;
  }

  // An error from the server, marked `final` when sending the file again cannot help (the
  // server said no: a limit, a bad name, a closed link). Network errors, 5xx, 408, 429 and
  // a checksum mismatch (bytes damaged on the way) are worth a retry.
  function refusal(message, status, body) {
    const error = new Error(message);
    error.status = status;
    error.code = (body && body.code) || "";
    error.final = status >= 400 && status < 500 && ![408, 429].includes(status) && error.code !== "checksum_mismatch";
    return error;
  }

  function announce(text) {
    // Screen readers hear progress milestones, not every percent.
    announcer.textContent = text;
  }

  // Uppy writes sizes its own way (decimal MB); where the page has Intake's one formatter
  // (static/intake/sizes.js), its size messages use that instead, written in plain words.
  const formatBytes = window.intakeFormatBytes;
  const locale = { strings: {} };
  if (formatBytes) {
    if (config.maxFileSize) {
      locale.strings.exceedsSize = `%{file} is larger than ${formatBytes(config.maxFileSize)}, the most one file can be.`;
    }
    locale.strings.aggregateExceedsSize = "These files are more than this link accepts in total.";
  }
  locale.strings.youCanOnlyUploadFileTypes = "Only these kinds of file are accepted: %{types}";

  const uppy = new Uppy({
    // Golden Retriever keeps its state per id: each portal resumes its own files.
    id: config.uppyId || "intake-staff",
    autoProceed: false,
    locale,
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
      getChunkSize: partSizeOf,
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
        const query = new URLSearchParams({ key, md5: await partMD5(file, partNumber, body, signal) });
        return askServer(`/s3/multipart/${encodeURIComponent(uploadId)}/${partNumber}?${query}`, signal);
      },
      limit: 6,
      retryDelays: [0, 1000, 3000, 5000],
    })
    // Keeps files (up to 512 MiB in IndexedDB) and multipart state across a reload;
    // a resumed multipart upload asks the server which parts S3 already has.
    .use(GoldenRetriever, { indexedDB: { maxFileSize: 512 * 1024 * 1024, maxTotalSize: 1024 * 1024 * 1024 } });

  // The server checks the declared size before signing and binds it into the URL.
  uppy.on("file-added", (file) => uppy.setFileMeta(file.id, { size: file.size, partSize: partSizeOf(file) }));
  uppy.on("file-removed", (file) => partDigests.delete(file.id));

  // The server answers 503 with Retry-After while S3 cannot be reached (ADR 0013):
  // come back a few times before calling the file failed.
  async function completeSingle(key) {
    const url = `${config.endpoint}/s3/complete?key=${encodeURIComponent(key)}`;
    for (let attempt = 1; ; attempt += 1) {
      const response = await fetch(url, {
        method: "POST", headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin",
      });
      const wait = Number(response.headers.get("Retry-After"));
      if (response.status !== 503 || !wait || attempt === 4) return response;
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 10) * 1000));
    }
  }

  // Single-request uploads have no "complete" call in the Companion contract: tell
  // the server, which HEADs the object and records it (or refuses it).
  uppy.addPostProcessor(async (fileIDs) => {
    for (const id of fileIDs) {
      const file = uppy.getFile(id);
      if (!file || file.error || !file.response || !file.response.body) continue;
      const multipart = file.s3Multipart && file.s3Multipart.uploadId;
      if (multipart) continue;
      uppy.emit("postprocess-progress", file, { mode: "indeterminate", message: "Checking the stored file" });
      const response = await completeSingle(file.response.body.key);
      if (!response.ok) {
        let body = null;
        try { body = await response.json(); } catch (_) { /* not JSON */ }
        const message = (body && body.message) || `The server refused the file (${response.status}).`;
        uppy.emit("upload-error", file, refusal(message, response.status, body));
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
  // Uppy 5 draws a single file as a "listitem" in a container with no "list" role (a
  // screen reader then cannot say what it belongs to); give the container its role.
  const uploaderElement = document.getElementById("uploader");
  if (uploaderElement) {
    new MutationObserver(() => {
      uploaderElement.querySelectorAll(".uppy-Dashboard-files:not([role])").forEach((files) => {
        if (files.querySelector('[role="listitem"]')) files.setAttribute("role", "list");
      });
    }).observe(uploaderElement, { childList: true, subtree: true });
  }
  window.intakeUppy = uppy; // for diagnostics and the browser tests
})();
