// faceprint's web page: plain JavaScript over the /v1 API; the key stays in this tab (sessionStorage).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("faceprint-key") || "", scope: null };
const TIMEOUT_MS = 3 * 60 * 1000;  // longest wait for one answer (an enrol of 20 photos takes far less)

// ---- talking to the API -------------------------------------------------------------------------
function timedOut() {
  return new ApiError(0, "timeout", `The server did not answer within ${TIMEOUT_MS / 60000} minutes; ` +
    "try again later, or with fewer or smaller photos.");
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (state.key) headers["X-API-Key"] = state.key;
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  // a request the server never answers must not leave its button busy for good
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  let data = null;
  try {
    try {
      response = await fetch(path, { method, headers, body: payload, signal: controller.signal });
    } catch (err) {
      if (controller.signal.aborted) throw timedOut();
      throw new ApiError(0, "network", "Cannot reach the faceprint server. Is it still running?");
    }
    try {
      data = await response.json();
    } catch (err) {
      if (controller.signal.aborted) throw timedOut();  // cut off while the answer was being read
      data = null;
    }
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error?.code || "http", describe(response, data));
  }
  return data;
}

function describe(response, data) {
  const message = data?.error?.message;
  switch (response.status) {
    case 401: return message ? message.charAt(0).toUpperCase() + message.slice(1) + "."
      : "This API key is not valid (mistyped or revoked).";
    case 403: return "This key is read-only (recognise scope): enrolling and deleting need an admin key.";
    case 413: return message || "The photos are too large for the server; send smaller or fewer photos.";
    case 503: {
      // only "busy" is about load: the key file, the models or the gallery's server say what is wrong
      if (message && data?.error?.code !== "busy") return message;
      const wait = response.headers.get("Retry-After");
      return `The server is busy; try again${wait ? ` in ${wait} s` : " shortly"}.`;
    }
    default: return message || `The server answered ${response.status} ${response.statusText}.`;
  }
}

// ---- small helpers ------------------------------------------------------------------------------
function show(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

function clear(...ids) {
  ids.forEach((id) => { const el = $(id); el.hidden = true; el.textContent = ""; });
}

async function busy(button, work) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = label + "…";
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

function needKey(errorId) {
  if (state.key) return true;
  show($(errorId), "Enter an API key at the top of the page first.");
  $("key").focus();
  return false;
}

function formatDistance(d) {
  return d === null || d === undefined ? "no one enrolled" : `distance ${Number(d).toFixed(3)}`;
}

// a face's quality (0-1) as " · quality 0.83", or nothing when the server did not score it
function formatQuality(q) {
  return q === null || q === undefined ? "" : ` · quality ${Number(q).toFixed(2)}`;
}

function previewFiles(input, target) {
  target.replaceChildren();
  for (const file of Array.from(input.files).slice(0, 12)) {
    const img = document.createElement("img");
    img.src = URL.createObjectURL(file);
    img.alt = "";
    target.append(img);
  }
}

// ---- the key ------------------------------------------------------------------------------------
async function checkKey() {
  const status = $("key-status");
  status.className = "status";
  if (!state.key) {
    status.textContent = "Enter an API key (created with faceprint keys create --scope admin).";
    return;
  }
  status.textContent = "Checking the key…";
  try {
    const me = await api("GET", "/v1/me");
    state.scope = me.scope;
    status.className = "status ok";
    status.textContent = me.scope === "admin"
      ? `Signed in with admin key ${me.id}${me.name ? ` (${me.name})` : ""}: you may enrol and delete.`
      : `Signed in with read-only key ${me.id}${me.name ? ` (${me.name})` : ""}: identify and verify only.`;
    for (const id of ["enrol-card"]) $(id).classList.toggle("locked", me.scope !== "admin");
    document.dispatchEvent(new CustomEvent("faceprint:key"));  // the People view (people.js) lists people
    await loadSubjects();
  } catch (err) {
    state.scope = null;
    status.className = "status bad";
    status.textContent = err.message;
    document.dispatchEvent(new CustomEvent("faceprint:key"));
  }
}

$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.key = $("key").value.trim();
  sessionStorage.setItem("faceprint-key", state.key);
  await busy($("key-save"), checkKey);
});

// ---- identify -----------------------------------------------------------------------------------
$("identify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clear("identify-error");
  if (!needKey("identify-error")) return;
  const file = $("identify-file").files[0];
  if (!file) return show($("identify-error"), "Choose a photo first.");
  const form = new FormData();
  form.append("image", file);
  $("identify-result").hidden = true;  // never show the last photo's answer under this one
  await busy($("identify-submit"), async () => {
    try {
      const result = await api("POST", "/v1/identify?top_k=3", form);
      drawIdentification(file, result);
    } catch (err) {
      $("identify-result").hidden = true;
      show($("identify-error"), err.message);
    }
  });
});

function drawIdentification(file, result) {
  const img = $("identify-img");
  const photo = $("identify-photo");
  photo.querySelectorAll(".box").forEach((b) => b.remove());
  const list = $("identify-faces");
  list.replaceChildren();
  // the server reads formats a browser may not show (TIFF, PGM...): then list the faces without the photo
  photo.hidden = false;
  img.onerror = () => {
    photo.hidden = true;
    const li = document.createElement("li");
    li.className = "note";
    li.textContent = "This browser cannot show this photo's format; the faces found in it are listed here.";
    list.prepend(li);
  };
  img.src = URL.createObjectURL(file);
  if (!result.faces.length) {
    const li = document.createElement("li");
    li.textContent = "No face found in this photo.";
    list.append(li);
  }
  result.faces.forEach((face, i) => {
    const [left, top, right, bottom] = face.face.box;
    const unknown = face.name === "unknown";
    const box = document.createElement("div");
    box.className = "box" + (unknown ? " unknown" : "") + (top / result.height < 0.08 ? " low" : "") +
      (left / result.width > 0.55 ? " right" : "");
    box.style.left = `${(100 * Math.max(0, left)) / result.width}%`;
    box.style.top = `${(100 * Math.max(0, top)) / result.height}%`;
    box.style.width = `${(100 * (Math.min(right, result.width) - Math.max(0, left))) / result.width}%`;
    box.style.height = `${(100 * (Math.min(bottom, result.height) - Math.max(0, top))) / result.height}%`;
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = `${i + 1}. ${face.name}`;
    box.append(tag);
    photo.append(box);

    const li = document.createElement("li");
    li.className = "face" + (unknown ? " unknown" : "");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `${i + 1}. ${face.name}`;
    const dist = document.createElement("span");
    dist.className = "dist";
    dist.textContent = formatDistance(face.distance) +
      (unknown && face.candidates.length ? ` (nearest: ${face.candidates[0].subject})` : "") +
      formatQuality(face.face.quality);
    li.append(name, dist);
    list.append(li);
  });
  $("identify-result").dataset.file = file.name;
  $("identify-result").hidden = false;
}

// ---- enrol --------------------------------------------------------------------------------------
$("enrol-files").addEventListener("change", () => previewFiles($("enrol-files"), $("enrol-preview")));

$("enrol-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clear("enrol-error", "enrol-result");
  if (!needKey("enrol-error")) return;
  const name = $("enrol-name").value.trim();
  const files = Array.from($("enrol-files").files);
  if (!name) return show($("enrol-error"), "Enter the person's name.");
  // a browser resolves "." and ".." out of the URL path, so such a name would reach another route
  if (name === "." || name === "..") return show($("enrol-error"), `“${name}” cannot be a name; choose another.`);
  if (!files.length) return show($("enrol-error"), "Choose at least one photo of this person.");
  const form = new FormData();
  files.forEach((f) => form.append("images", f));
  await busy($("enrol-submit"), async () => {
    try {
      const report = await api("POST", `/v1/subjects/${encodeURIComponent(name)}/faces`, form);
      const box = $("enrol-result");
      box.replaceChildren();
      const head = document.createElement("div");
      const dup = report.skipped_duplicates ? `, ${report.skipped_duplicates} already enrolled` : "";
      head.textContent = `Enrolled ${report.added} photo${report.added === 1 ? "" : "s"} of ` +
        `${report.subject.name}${dup}; ${report.subject.faces} face${report.subject.faces === 1 ? "" : "s"} in all.`;
      box.append(head);
      const issues = Object.entries(report.problems).map(([k, v]) => `${k}: ${v}`).concat(report.notes);
      if (issues.length) {
        const ul = document.createElement("ul");
        issues.forEach((text) => { const li = document.createElement("li"); li.textContent = text; ul.append(li); });
        box.append(ul);
      }
      box.hidden = false;
      $("enrol-form").reset();
      $("enrol-preview").replaceChildren();
      await loadSubjects();
      document.dispatchEvent(new CustomEvent("faceprint:gallery"));  // the People view lists them again
    } catch (err) {
      show($("enrol-error"), err.message);
    }
  });
});

// ---- verify -------------------------------------------------------------------------------------
for (const which of ["first", "second"]) {
  $(`verify-${which}`).addEventListener("change", () => {
    const file = $(`verify-${which}`).files[0];
    const img = $(`verify-${which}-preview`);
    img.hidden = !file;
    if (file) img.src = URL.createObjectURL(file);
  });
}

$("verify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clear("verify-error", "verify-result");
  if (!needKey("verify-error")) return;
  const first = $("verify-first").files[0];
  const second = $("verify-second").files[0];
  if (!first || !second) return show($("verify-error"), "Choose two photos.");
  const form = new FormData();
  form.append("first", first);
  form.append("second", second);
  await busy($("verify-submit"), async () => {
    try {
      const r = await api("POST", "/v1/verify", form);
      const out = $("verify-result");
      out.className = "verdict " + (r.same ? "same" : "different");
      out.replaceChildren();
      const strong = document.createElement("strong");
      strong.textContent = r.same ? "Same person" : "Different people";
      const detail = document.createElement("div");
      detail.textContent = `distance ${r.distance.toFixed(3)}, threshold ${r.threshold.toFixed(3)}` +
        (r.first.quality != null && r.second.quality != null ? ` · quality ${r.first.quality.toFixed(2)} and ${r.second.quality.toFixed(2)}` : "") +
        (r.notes.length ? ` · ${r.notes.join("; ")}` : "");
      out.append(strong, detail);
      out.hidden = false;
    } catch (err) {
      show($("verify-error"), err.message);
    }
  });
});

// ---- subjects -----------------------------------------------------------------------------------
async function loadSubjects() {
  clear("subjects-error");
  if (!state.key) return;
  try {
    const { subjects } = await api("GET", "/v1/subjects");
    const body = $("subjects-list");
    body.replaceChildren();
    for (const s of subjects) {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = s.name;
      const count = document.createElement("td");
      count.className = "count";
      count.textContent = s.faces;
      const act = document.createElement("td");
      const del = document.createElement("button");
      del.type = "button";
      del.className = "danger";
      del.textContent = "Delete";
      del.setAttribute("aria-label", `Delete ${s.name}`);
      del.disabled = state.scope !== "admin";
      del.title = state.scope === "admin" ? `Delete ${s.name} and all their faces` : "Needs an admin key";
      del.addEventListener("click", () => deleteSubject(s.name, del));
      act.append(del);
      tr.append(name, count, act);
      body.append(tr);
    }
    $("subjects-table").hidden = !subjects.length;
    $("subjects-empty").hidden = subjects.length > 0;
  } catch (err) {
    show($("subjects-error"), err.message);
  }
}

async function deleteSubject(name, button) {
  if (!window.confirm(`Delete ${name} and all their enrolled faces?`)) return;
  clear("subjects-error");
  await busy(button, async () => {
    try {
      await api("DELETE", `/v1/subjects/${encodeURIComponent(name)}`);
    } catch (err) {
      show($("subjects-error"), err.message);
    }
  });
  await loadSubjects();
  document.dispatchEvent(new CustomEvent("faceprint:gallery"));
}

$("subjects-refresh").addEventListener("click", () => busy($("subjects-refresh"), loadSubjects));

// ---- start --------------------------------------------------------------------------------------
if (state.key) {
  $("key").value = state.key;
  checkKey();
}
