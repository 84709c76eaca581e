// The review desk's page: log in with Cognito, read the queue, open an upload, decide.
// Every value from the server is shown with textContent, never as HTML.
"use strict";

const FIELDS = [
  ["plate_number", "号牌号码", "Plate number"],
  ["vehicle_type", "车辆类型", "Vehicle type"],
  ["owner", "所有人", "Owner"],
  ["address", "住址", "Address"],
  ["use_character", "使用性质", "Use character"],
  ["model", "品牌型号", "Model"],
  ["vin", "车辆识别代号", "VIN"],
  ["engine_number", "发动机号码", "Engine number"],
  ["register_date", "注册日期", "Register date"],
  ["issue_date", "发证日期", "Issue date"],
  ["license_issuing_authority", "发证机关", "Issuing authority"],
  ["document_id", "档案编号", "Document id"],
  ["approved_passengers_capacity", "核定载人数", "Passengers"],
  ["total_mass", "总质量", "Total mass"],
  ["curb_weight", "整备质量", "Curb weight"],
  ["ratified_load_capacity", "核定载质量", "Ratified load"],
  ["gabarite", "外廓尺寸", "Dimensions"],
  ["traction_mass", "准牵引总质量", "Traction mass"],
  ["remarks", "备注", "Remarks"],
  ["inspection_record", "检验记录", "Inspection record"],
];
// Which normalised values each field shows.
const NORMALIZED = {
  plate_number: ["plate_number", "plate_kind"],
  vin: ["vin", "vin_check_digit_valid", "vin_model_year", "vin_suggestion"],
  register_date: ["register_date"], issue_date: ["issue_date"],
  approved_passengers_capacity: ["approved_passengers"], total_mass: ["total_mass_kg"],
  curb_weight: ["curb_weight_kg"], ratified_load_capacity: ["ratified_load_kg"],
  traction_mass: ["traction_mass_kg"], gabarite: ["length_mm", "width_mm", "height_mm"],
  inspection_record: ["inspection_valid_until"],
};

const state = { config: null, token: null, user: null, kind: "", reason: "", items: [], cursor: null,
  current: null, upload: null, validateTimer: null, session: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else if (name.startsWith("data-")) node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// -- Cognito (USER_PASSWORD_AUTH, called from the page) -------------------------------------
async function cognito(target, body) {
  const answer = await fetch(state.config.cognito_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}` },
    body: JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(data.message || data.__type || `Cognito answered ${answer.status}`);
  return data;
}

async function logIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const username = $("username").value.trim();
  try {
    let answer;
    if (state.session) {
      answer = await cognito("RespondToAuthChallenge", {
        ClientId: state.config.client_id, ChallengeName: "NEW_PASSWORD_REQUIRED", Session: state.session,
        ChallengeResponses: { USERNAME: username, NEW_PASSWORD: $("new-password").value },
      });
    } else {
      answer = await cognito("InitiateAuth", {
        AuthFlow: "USER_PASSWORD_AUTH", ClientId: state.config.client_id,
        AuthParameters: { USERNAME: username, PASSWORD: $("password").value },
      });
    }
    if (answer.ChallengeName === "NEW_PASSWORD_REQUIRED") {
      state.session = answer.Session;
      $("new-password-row").hidden = false;
      $("login-error").textContent = "Choose a new password to finish your first log-in.";
      return;
    }
    if (!answer.AuthenticationResult) throw new Error(`unexpected challenge ${answer.ChallengeName}`);
    state.session = null;
    state.token = answer.AuthenticationResult.AccessToken;
    sessionStorage.setItem("desk-token", state.token);
    $("password").value = "";
    await start();
  } catch (error) {
    $("login-error").textContent = `Log-in failed: ${error.message}`;
  }
}

function logOut() {
  sessionStorage.removeItem("desk-token");
  state.token = null;
  showLogin();
}

function showLogin() {
  $("desk").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login").hidden = false;
  $("username").focus();
}

// -- the API -----------------------------------------------------------------------------------
async function api(path, body) {
  const answer = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${state.token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (answer.status === 401) { logOut(); throw new Error("log in again"); }
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const error = new Error(data.message || `the API answered ${answer.status}`);
    error.code = data.error;
    throw error;
  }
  return data;
}

async function start() {
  const me = await api("/api/me");
  state.user = me.username;
  $("who").textContent = `${me.username}`;
  $("login").hidden = true;
  $("desk").hidden = false;
  $("logout").hidden = false;
  await loadQueue(true);
}

// -- the queue ---------------------------------------------------------------------------------
async function loadQueue(fresh) {
  const params = new URLSearchParams({ limit: "50" });
  if (state.kind) params.set("kind", state.kind);
  if (state.reason) params.set("reason", state.reason);
  if (!fresh && state.cursor) params.set("cursor", state.cursor);
  const page = await api(`/api/queue?${params}`);
  state.items = fresh ? page.items : state.items.concat(page.items);
  state.cursor = page.cursor;
  let total = 0;
  for (const [kind, count] of Object.entries(page.counts)) {
    $(`count-${kind}`).textContent = count;
    total += count;
  }
  $("count-all").textContent = total;
  renderQueue();
}

function renderQueue() {
  const list = $("queue");
  list.replaceChildren();
  const codes = new Set();
  for (const item of state.items) {
    item.review_reasons.forEach((code) => codes.add(code));
    const review = item.review || {};
    const held = review.status === "IN_REVIEW" && !item.available ? `held by ${review.claimed_by}` : "";
    const li = el("li", { "data-id": item.id, tabIndex: 0 },
      el("div", { class: "key" }, item.object_key),
      el("div", { class: "meta" }, `${item.kind.toLowerCase().replace("_", " ")} · since ${item.since} ${held}`),
      el("div", {}, ...(item.review_reasons.length ? item.review_reasons : [item.error || item.status]).map((r) => el("span", { class: "reason" }, r))));
    if (state.current === item.id) li.classList.add("current");
    li.addEventListener("click", () => openUpload(item.id));
    list.append(li);
  }
  if (!state.items.length) list.append(el("li", { class: "muted" }, "Nothing waits for a review."));
  $("more").hidden = !state.cursor;
  $("reason-codes").replaceChildren(...[...codes].sort().map((code) => el("option", { value: code })));
}

function step(offset) {
  const index = state.items.findIndex((item) => item.id === state.current);
  const next = state.items[index + offset] || (index < 0 ? state.items[0] : null);
  if (next) openUpload(next.id);
}

// -- one upload --------------------------------------------------------------------------------
async function openUpload(id) {
  state.current = id;
  renderQueue();
  $("upload-error").textContent = "";
  const upload = await api(`/api/uploads/${id}`);
  showUpload(upload);
}

function mine(upload) {
  const review = upload.review || {};
  return review.status === "IN_REVIEW" && review.claimed_by === state.user && !upload.available;
}

function showUpload(upload) {
  state.upload = upload;
  $("upload").hidden = false;
  $("upload-key").textContent = upload.object_key;
  $("upload-status").textContent = upload.status + (upload.error ? ` · ${upload.error.status}` : "");
  const review = upload.review || {};
  const decided = ["APPROVED", "CORRECTED", "REJECTED"].includes(review.status);
  const words = { PENDING: "waiting for a review", IN_REVIEW: "in review", APPROVED: "approved", CORRECTED: "corrected", REJECTED: "rejected" };
  let said = review.status ? words[review.status] || review.status : "no review needed";
  if (review.status === "IN_REVIEW") said += upload.available ? " (claim expired)" : ` by ${review.claimed_by} until ${review.claim_expires_at}`;
  if (decided) said += ` by ${review.decided_by} at ${review.decided_at}${review.reason ? ` (${review.reason})` : ""}`;
  $("review-state").textContent = said;

  const image = $("image");
  $("boxes").replaceChildren();
  image.onload = () => drawBoxes();
  if (upload.image_url) { image.src = upload.image_url; image.hidden = false; } else { image.hidden = true; }
  $("image-note").textContent = upload.boxes ? "Boxes: where each value was read." : "The recognizer gave no boxes for this upload.";

  const values = upload.reviewed_license || upload.license || {};
  const reasons = upload.reviewed_field_reasons || upload.field_reasons || {};
  const body = $("fields").tBodies[0];
  body.replaceChildren();
  const editable = mine(upload);
  for (const [name, zh, en] of FIELDS) {
    const input = el("input", { name, value: values[name] || "", maxLength: 1000, disabled: !editable });
    input.dataset.original = (upload.license || {})[name] || "";
    input.setAttribute("aria-label", en);
    input.addEventListener("input", onEdit);
    input.addEventListener("focus", () => drawBoxes(name));
    const row = el("tr", { "data-field": name },
      el("td", { class: "name" }, zh, el("small", {}, en)),
      el("td", {}, input, el("div", { class: "reasons" })),
      el("td", { class: "normalized" }));
    body.append(row);
  }
  showChecks(reasons, upload.reviewed_normalized || upload.normalized || {});
  markChanged();
  $("claim").disabled = decided || editable || !upload.review_queue;
  $("release").disabled = !editable;
  $("primary").disabled = !editable;
  $("reject").disabled = !editable;
  $("reject-reason").disabled = !editable;
  $("reject-note").disabled = !editable;
  renderTrail(upload.trail || []);
  showVehicle(upload);
}

// -- the vehicle record of the upload's plate (SPEC §12) ---------------------------------------
async function showVehicle(upload) {
  const panel = $("vehicle");
  const values = upload.reviewed_license || upload.license;
  const plate = ((upload.reviewed_normalized || upload.normalized || {}).plate_number || (values || {}).plate_number || "").trim();
  $("vehicle-reasons").replaceChildren();
  $("vehicle-pages").tBodies[0].replaceChildren();
  panel.hidden = !values;
  if (!values) return;
  if (!plate) {
    $("vehicle-state").textContent = "No plate was read: this page waits for one (correct the plate to join it to its vehicle).";
    return;
  }
  $("vehicle-state").textContent = `Looking up the record of ${plate}…`;
  let found;
  try {
    found = await api(`/api/vehicles/${encodeURIComponent(plate)}`);
  } catch (error) {
    if (state.upload !== upload) return;
    $("vehicle-state").textContent = error.code === "NOT_FOUND" ? `No vehicle record for ${plate} yet.` : `Vehicle record: ${error.message}`;
    return;
  }
  if (state.upload !== upload) return;  // another upload was opened meanwhile
  const record = found.records[0];
  const waiting = { main: "the main page", secondary: "the secondary page", plate: "a plate" };
  $("vehicle-state").textContent = `${record.plate}: ` + (record.complete
    ? `complete since ${record.completed_at}`
    : `waiting for ${waiting[record.waiting_for] || "its pages"}`);
  $("vehicle-reasons").replaceChildren(...(record.review_reasons.length ? record.review_reasons : ["no conflict between the pages"])
    .map((code) => el("span", { class: record.review_reasons.length ? "reason" : "muted" }, code)));
  const body = $("vehicle-pages").tBodies[0];
  for (const [page, label] of [["main", "Main page"], ["secondary", "Secondary page"]]) {
    const slot = record.pages[page];
    if (!slot) {
      body.append(el("tr", {}, el("td", {}, label), el("td", { class: "muted" }, "not yet uploaded"), el("td", {})));
      continue;
    }
    const key = slot.image_uri.replace(/^s3:\/\/[^/]+\//, "");
    const here = slot.image_uri === upload.image_uri;
    const link = el("button", { type: "button", class: "link", disabled: here }, here ? `${key} (this upload)` : key);
    link.addEventListener("click", () => openUpload(slot.id));
    const count = Object.values(record.fields).filter((field) => field.page === page).length;
    body.append(el("tr", {}, el("td", {}, label),
      el("td", {}, link, el("small", {}, slot.reviewed ? ` reviewed ${slot.decided_at}` : ` as read ${slot.processed_at}`)),
      el("td", {}, `${count} value${count === 1 ? "" : "s"}`)));
  }
}

function showChecks(fieldReasons, normalized) {
  for (const row of $("fields").tBodies[0].rows) {
    const name = row.dataset.field;
    const codes = fieldReasons[name] || [];
    row.classList.toggle("flagged", codes.length > 0);
    row.cells[1].querySelector(".reasons").replaceChildren(...codes.map((code) => el("span", { class: "reason" }, code)));
    const shown = (NORMALIZED[name] || []).filter((key) => normalized[key] !== undefined && normalized[key] !== null)
      .map((key) => `${key}: ${normalized[key]}`);
    row.cells[2].textContent = shown.join(" · ");
  }
  drawBoxes();
}

function drawBoxes(focused) {
  const upload = state.upload;
  const layer = $("boxes");
  layer.replaceChildren();
  const image = $("image");
  if (!upload || !upload.boxes || !image.naturalWidth) return;
  const scaleX = image.clientWidth / image.naturalWidth;
  const scaleY = image.clientHeight / image.naturalHeight;
  const flagged = new Set(Object.keys(upload.field_reasons || {}));
  for (const [name, box] of Object.entries(upload.boxes)) {
    const [x0, y0, x1, y1] = box;
    const node = el("div", { class: "box", title: name, "data-field": name });
    node.style.left = `${x0 * scaleX}px`;
    node.style.top = `${y0 * scaleY}px`;
    node.style.width = `${(x1 - x0) * scaleX}px`;
    node.style.height = `${(y1 - y0) * scaleY}px`;
    if (flagged.has(name)) node.classList.add("flagged");
    if (focused === name) node.classList.add("current");
    layer.append(node);
  }
}

function currentValues() {
  const values = {};
  for (const input of $("fields").querySelectorAll("input")) values[input.name] = input.value;
  return values;
}

function changedValues() {
  const changed = {};
  for (const input of $("fields").querySelectorAll("input")) if (input.value !== input.dataset.original) changed[input.name] = input.value;
  return changed;
}

function markChanged() {
  const changed = changedValues();
  for (const row of $("fields").tBodies[0].rows) row.classList.toggle("changed", row.dataset.field in changed);
  const recognized = state.upload && state.upload.status === "SUCCEEDED";
  $("primary").textContent = !recognized ? "Save entry" : Object.keys(changed).length ? "Save corrections" : "Approve";
}

function onEdit() {
  markChanged();
  clearTimeout(state.validateTimer);
  state.validateTimer = setTimeout(async () => {
    try {
      const checked = await api("/api/validate", { license: currentValues() });
      showChecks(checked.field_reasons, checked.normalized);
    } catch (error) {
      $("upload-error").textContent = error.message;
    }
  }, 200);
}

function renderTrail(entries) {
  $("trail").replaceChildren(...entries.map((entry) => el("li", {},
    `${entry.at} · ${entry.actor} · ${entry.action}${entry.reason ? ` (${entry.reason})` : ""}${entry.note ? `: ${entry.note}` : ""}`,
    ...Object.entries(entry.changes || {}).map(([name, change]) =>
      el("div", { class: "change" }, `${name}: “${change.before}” → “${change.after}”`)))));
}

// `shown` runs as soon as the answer is on screen, before the queue is refreshed: what it does to
// the focus must not wait for the refresh, or it lands while the reviewer is already typing.
async function act(verb, body, shown) {
  const upload = state.upload;
  $("upload-error").textContent = "";
  let answer;
  try {
    answer = await api(`/api/uploads/${upload.id}/${verb}`, { identity: upload.identity, ...(body || {}) });
  } catch (error) {
    $("upload-error").textContent = `${error.code || "error"}: ${error.message}`;
    return null;
  }
  showUpload(answer);
  if (shown) shown(answer);
  try {
    await loadQueue(true);
  } catch (error) {
    $("upload-error").textContent = `the queue was not refreshed: ${error.message}`;
  }
  return answer;
}

async function primary(event) {
  if (event) event.preventDefault();
  if (!state.upload || !mine(state.upload)) return;
  const recognized = state.upload.status === "SUCCEEDED";
  const changed = changedValues();
  // The decision stays on screen with its trail until the reviewer moves on (j: the next upload).
  const leaveFields = () => { if (document.activeElement) document.activeElement.blur(); };
  if (!recognized) await act("decision", { action: "enter", license: currentValues() }, leaveFields);
  else if (Object.keys(changed).length) await act("decision", { action: "correct", license: changed }, leaveFields);
  else await act("decision", { action: "approve" }, leaveFields);
}

async function reject() {
  const reason = $("reject-reason").value;
  if (!reason) { $("upload-error").textContent = "Choose why the upload is rejected."; $("reject-reason").focus(); return; }
  await act("decision", { action: "reject", reason, note: $("reject-note").value }, () => {
    $("reject-note").value = ""; $("reject-reason").value = ""; document.activeElement.blur();
  });
}

async function claim() {
  await act("claim", undefined, () => { const first = $("fields").querySelector("input"); if (first) first.focus(); });
}

// -- keys --------------------------------------------------------------------------------------
function onKey(event) {
  const inField = event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); primary(); return; }
  if (inField) {
    if (event.key === "Escape") event.target.blur();
    if (event.key === "Enter" && event.target.closest("#fields")) {
      event.preventDefault();
      const inputs = [...$("fields").querySelectorAll("input")];
      const next = inputs[inputs.indexOf(event.target) + 1];
      if (next) next.focus(); else $("primary").focus();
    }
    return;
  }
  if (event.key === "j") step(1);
  else if (event.key === "k") step(-1);
  else if (event.key === "c" && !$("claim").disabled) claim();
  else if (event.key === "r" && !$("reject").disabled) $("reject-reason").focus();
}

async function boot() {
  state.config = await (await fetch("/config.json")).json();
  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", logOut);
  $("fields-form").addEventListener("submit", primary);
  $("claim").addEventListener("click", claim);
  $("release").addEventListener("click", () => act("release"));
  $("reject").addEventListener("click", reject);
  $("more").addEventListener("click", () => loadQueue(false));
  $("reason-filter").addEventListener("change", () => { state.reason = $("reason-filter").value.trim(); loadQueue(true); });
  for (const button of document.querySelectorAll(".kind")) {
    button.addEventListener("click", () => {
      document.querySelectorAll(".kind").forEach((b) => b.classList.remove("selected"));
      button.classList.add("selected");
      state.kind = button.dataset.kind;
      loadQueue(true);
    });
  }
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", () => drawBoxes());
  state.token = sessionStorage.getItem("desk-token");
  if (state.token) {
    try { await start(); return; } catch (error) { /* an expired token: log in again */ }
  }
  showLogin();
}

boot();
