// The People view of faceprint's web page: every person of the gallery, named or not, with face
// thumbnails; add library photos, name, merge, move faces, "not this person", delete faces.
// It runs after app.js and uses its helpers ($, api, state, show, clear, busy, loadSubjects).
"use strict";

const PAGE_SIZE = 60;  // people listed at a time ("Show more" lists the next ones)
const people = { list: [], total: 0, filter: "", open: null, selected: new Set(), thumbs: new Map() };

// ---- thumbnails: fetched with the key (an <img src> cannot send it), kept as blob URLs ---------------
const thumbQueue = [];
let thumbsLoading = 0;

function thumbnail(faceId) {
  if (!people.thumbs.has(faceId)) {
    people.thumbs.set(faceId, new Promise((resolve) => { thumbQueue.push({ faceId, resolve }); pumpThumbs(); }));
  }
  return people.thumbs.get(faceId);
}

function pumpThumbs() {
  while (thumbsLoading < 6 && thumbQueue.length) {
    const { faceId, resolve } = thumbQueue.shift();
    thumbsLoading += 1;
    fetch(`/v1/faces/${faceId}/thumbnail`, { headers: { "X-API-Key": state.key } })
      .then((r) => (r.ok ? r.blob() : null))
      .then((blob) => resolve(blob ? URL.createObjectURL(blob) : null))
      .catch(() => resolve(null))
      .finally(() => { thumbsLoading -= 1; pumpThumbs(); });
  }
}

function faceImage(faceId, alt) {
  const img = document.createElement("img");
  img.alt = alt;
  img.className = "thumb loading";
  if (faceId === null || faceId === undefined) {
    img.className = "thumb missing";
    return img;
  }
  thumbnail(faceId).then((url) => {
    if (url) img.src = url;
    img.className = url ? "thumb" : "thumb missing";
    img.dataset.loaded = url ? "yes" : "no";
  });
  return img;
}

function forgetThumbs() {
  for (const promise of people.thumbs.values()) promise.then((url) => url && URL.revokeObjectURL(url));
  people.thumbs.clear();
}

// ---- the list of people -------------------------------------------------------------------------------
function isAdmin() {
  return state.scope === "admin";
}

function plural(n, word) {
  if (word.endsWith("person")) return `${n} ${n === 1 ? word : word.slice(0, -6) + "people"}`;
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

async function loadPeople(more = false) {
  clear("people-error");
  if (!state.key || !state.scope) return;
  const offset = more ? people.list.length : 0;
  const named = people.filter ? `&named=${people.filter}` : "";
  try {
    const page = await api("GET", `/v1/people?offset=${offset}&limit=${PAGE_SIZE}${named}`);
    people.list = more ? people.list.concat(page.people) : page.people;
    people.total = page.total;
    drawPeople();
  } catch (err) {
    show($("people-error"), err.message);
  }
}

function drawPeople() {
  const list = $("people-list");
  list.replaceChildren();
  for (const person of people.list) {
    const li = document.createElement("li");
    li.className = "person" + (person.named ? " named" : " unnamed");
    li.dataset.personId = person.id;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "person-open";
    open.setAttribute("aria-label", `Open ${person.label}`);
    open.setAttribute("aria-pressed", String(people.open?.id === person.id));
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = person.label;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = plural(person.faces, "face");
    open.append(faceImage(person.cover, `A face of ${person.label}`), label, count);
    open.addEventListener("click", () => openPerson(person.id));
    li.append(open);
    list.append(li);
  }
  $("people-empty").hidden = people.list.length > 0;
  $("people-more").hidden = people.list.length >= people.total;
  const which = { true: "named", false: "unnamed" }[people.filter] || "in all";
  $("people-count").textContent = people.total ? `${plural(people.total, "person")} ${which}` : "";
  fillTargets();
}

// ---- one person -----------------------------------------------------------------------------------
async function openPerson(personId) {
  clear("people-error", "person-error");
  try {
    const { person, faces } = await api("GET", `/v1/people/${personId}`);
    people.open = { ...person, faceList: faces };
    people.selected.clear();
    drawPerson();
    drawPeople();
    $("person-panel").scrollIntoView({ block: "nearest" });
  } catch (err) {
    closePerson();
    show($("people-error"), err.message);
  }
}

function closePerson() {
  people.open = null;
  people.selected.clear();
  $("person-panel").hidden = true;
  drawPeople();
}

function drawPerson() {
  const person = people.open;
  $("person-panel").hidden = false;
  $("person-panel").dataset.personId = person.id;
  $("person-title").textContent = `${person.label} · ${plural(person.faceList.length, "face")}`;
  $("person-name").value = person.name || "";
  $("person-name").placeholder = person.name ? "" : "Who is this?";
  const grid = $("person-faces");
  grid.replaceChildren();
  for (const face of person.faceList) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "face-pick";
    button.dataset.faceId = face.id;
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", `Face ${face.id}${face.source ? ` from ${face.source}` : ""}`);
    button.title = face.source || `face ${face.id}`;
    button.append(faceImage(face.id, `Face ${face.id}`));
    button.addEventListener("click", () => {
      const on = !people.selected.has(face.id);
      if (on) people.selected.add(face.id); else people.selected.delete(face.id);
      button.setAttribute("aria-pressed", String(on));
      drawSelection();
    });
    grid.append(button);
  }
  drawSelection();
  fillTargets();
}

function drawSelection() {
  const n = people.selected.size;
  $("faces-selected").textContent = n ? `${plural(n, "face")} selected` : "Select faces to correct them.";
  for (const id of ["faces-move", "faces-not-this", "faces-delete"]) $(id).disabled = !n || !isAdmin();
}

function fillTargets() {
  // the people a face can move to, or this person be merged with: those listed, but the open one
  const openId = people.open?.id;
  const others = people.list.filter((p) => p.id !== openId);
  for (const [id, first] of [["move-to", "a new person"], ["merge-from", "choose someone"]]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren();
    const lead = document.createElement("option");
    lead.value = "";
    lead.textContent = first;
    select.append(lead);
    for (const p of others) {
      const option = document.createElement("option");
      option.value = p.id;
      option.textContent = `${p.label} (${plural(p.faces, "face")})`;
      select.append(option);
    }
    if (Array.from(select.options).some((o) => o.value === keep)) select.value = keep;
  }
  for (const el of document.querySelectorAll("#people-card .admin-only")) el.disabled = !isAdmin();
  if (people.open) drawSelection();
}

// the list again, and the open person when they still exist
async function refreshPeople() {
  const openId = people.open?.id;
  await loadPeople();
  if (openId !== undefined) {
    if (people.list.some((p) => p.id === openId)) await openPerson(openId);
    else closePerson();
  }
}

// after a change here: the people, and the enrolled names of the page's other card
async function refreshAll(message) {
  if (message) show($("people-result"), message);
  await refreshPeople();
  await loadSubjects();
}

async function act(button, errorId, work) {
  clear("people-error", "person-error", "people-result");
  await busy(button, async () => {
    try {
      await work();
    } catch (err) {
      show($(errorId), err.message);
    }
  });
  if (people.open) drawSelection();
}

// ---- corrections ----------------------------------------------------------------------------------
$("person-name-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("person-name").value.trim();
  if (!name) return show($("person-error"), "Enter a name for this person.");
  act($("person-name-submit"), "person-error", async () => {
    try {
      const person = await api("POST", `/v1/people/${people.open.id}/name`, { name });
      await refreshAll(`Named ${person.label}.`);
    } catch (err) {
      // a name is one person's: the same person found twice is merged, not named twice
      if (err.code === "subject_exists") {
        throw new ApiError(err.status, err.code, `“${name}” is someone else already. If this is the same ` +
          `person, open ${name} and merge ${people.open.label} into them.`);
      }
      throw err;
    }
  });
});

$("person-merge-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const other = Number($("merge-from").value);
  if (!other) return show($("person-error"), "Choose the person to merge into this one.");
  const label = people.list.find((p) => p.id === other)?.label || `person ${other}`;
  act($("person-merge-submit"), "person-error", async () => {
    const person = await api("POST", `/v1/people/${people.open.id}/merge`, { people: [other] });
    await refreshAll(`Merged ${label} into ${person.label}: ${plural(person.faces, "face")}.`);
  });
});

$("faces-move").addEventListener("click", () => {
  const to = $("move-to").value ? Number($("move-to").value) : null;
  const faces = Array.from(people.selected);
  act($("faces-move"), "person-error", async () => {
    const person = await api("POST", "/v1/faces/move", { faces, to });
    await refreshAll(`Moved ${plural(faces.length, "face")} to ${person.label}.`);
  });
});

$("faces-not-this").addEventListener("click", () => {
  const faces = Array.from(people.selected);
  const label = people.open.label;
  act($("faces-not-this"), "person-error", async () => {
    for (const face of faces) await api("POST", `/v1/faces/${face}/not-this-person`);
    await refreshAll(`${plural(faces.length, "face")} marked as not ${label}: they will not be put back.`);
  });
});

$("faces-delete").addEventListener("click", () => {
  const faces = Array.from(people.selected);
  if (!window.confirm(`Delete ${plural(faces.length, "face")} from the gallery?`)) return;
  act($("faces-delete"), "person-error", async () => {
    for (const face of faces) await api("DELETE", `/v1/faces/${face}`);
    await refreshAll(`Deleted ${plural(faces.length, "face")}.`);
  });
});

$("person-close").addEventListener("click", closePerson);

// ---- adding photos, re-clustering, the list's controls --------------------------------------------------
$("photos-form").addEventListener("submit", (event) => {
  event.preventDefault();
  clear("people-error", "people-result");
  if (!needKey("people-error")) return;
  const files = Array.from($("photos-files").files);
  if (!files.length) return show($("people-error"), "Choose the photos to add.");
  const form = new FormData();
  files.forEach((f) => form.append("images", f));
  act($("photos-submit"), "people-error", async () => {
    const report = await api("POST", "/v1/photos", form);
    const problems = Object.entries(report.problems || {}).map(([k, v]) => `${k}: ${v}`);
    $("photos-form").reset();
    await refreshAll(`Added ${plural(report.faces, "face")} from ${plural(files.length, "photo")}: ` +
      `${report.joined} joined someone, ${plural(report.new_people, "new person")}` +
      (report.skipped_duplicates ? `; ${plural(report.skipped_duplicates, "photo")} already there` : "") +
      (problems.length ? `. Not added: ${problems.join("; ")}` : "."));
  });
});

$("people-recluster").addEventListener("click", () => {
  act($("people-recluster"), "people-error", async () => {
    const summary = await api("POST", "/v1/people/recluster", {});
    await refreshAll(`Re-clustered: ${plural(summary.people, "person")}; ` +
      "every name and correction kept.");
  });
});

$("people-filter").addEventListener("change", () => {
  people.filter = $("people-filter").value;
  busy($("people-refresh"), () => loadPeople());
});
$("people-refresh").addEventListener("click", () => busy($("people-refresh"), refreshPeople));
$("people-more").addEventListener("click", () => busy($("people-more"), () => loadPeople(true)));

// a key was accepted (or refused): list the people it may see
document.addEventListener("faceprint:key", () => {
  forgetThumbs();
  closePerson();
  if (state.scope) loadPeople();
  else { people.list = []; people.total = 0; drawPeople(); }
});
// the page's other cards changed the gallery (an enrol, a subject deleted)
document.addEventListener("faceprint:gallery", () => { if (state.scope) refreshPeople(); });
if (state.scope) loadPeople();
