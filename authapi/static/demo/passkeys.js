// authapi browser demo: passkeys (WebAuthn). Loaded after app.js and uses its helpers
// (api, showMessage, clearMessage, report, el, formatTime, busy, loadAccount, $).
//
// - Logged out: the email field's autofill offers this site's passkeys (conditional
//   mediation, autocomplete="username webauthn"), and a button asks for one directly.
//   Either way the page sends the signed answer to POST /api/auth/passkeys/login.
// - Logged in: list, add, rename and remove passkeys.
// - After a password, a login that answers 403 mfa_required with "passkey" among its
//   methods can be finished with a passkey: passkeySecondFactor(mfaToken).
//
// Options and answers travel as JSON with base64url for the binary fields, the shape
// of the WebAuthn JSON methods; the conversion is done here by hand so that it works
// in browsers that lack PublicKeyCredential.parse*OptionsFromJSON and toJSON().
"use strict";

const PASSKEYS = "/api/auth/passkeys";
const RENEW_AUTOFILL_MS = 270_000;

// ---------------------------------------------------------------------------
// base64url <-> bytes, options from JSON, credentials to JSON

function base64urlToBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function bytesToBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function descriptorsFromJSON(list) {
  return (list || []).map((item) => ({ ...item, id: base64urlToBytes(item.id) }));
}

function creationOptionsFromJSON(options) {
  return {
    ...options,
    challenge: base64urlToBytes(options.challenge),
    user: { ...options.user, id: base64urlToBytes(options.user.id) },
    excludeCredentials: descriptorsFromJSON(options.excludeCredentials),
  };
}

function requestOptionsFromJSON(options) {
  return {
    ...options,
    challenge: base64urlToBytes(options.challenge),
    allowCredentials: descriptorsFromJSON(options.allowCredentials),
  };
}

function credentialToJSON(credential) {
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: bytesToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || null,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: bytesToBase64url(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = bytesToBase64url(response.attestationObject);
    json.response.transports = response.getTransports ? response.getTransports() : [];
  } else {
    json.response.authenticatorData = bytesToBase64url(response.authenticatorData);
    json.response.signature = bytesToBase64url(response.signature);
    json.response.userHandle = response.userHandle
      ? bytesToBase64url(response.userHandle)
      : null;
  }
  return json;
}

function passkeysSupported() {
  return typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

// The browser's own refusals, in words; API errors keep their message.
function reportPasskeyError(error) {
  const words = {
    NotAllowedError: "The passkey request was cancelled or timed out.",
    InvalidStateError: "This device already holds a passkey for this account.",
    SecurityError: "Passkeys are not allowed on this page's address.",
    NotSupportedError: "This browser or device cannot make passkeys.",
  };
  if (error instanceof DOMException && words[error.name]) {
    showMessage(words[error.name], "error");
  } else {
    report(error);
  }
}

// ---------------------------------------------------------------------------
// Signing in

// The pending autofill request (conditional mediation), if any.
let autofill = null;

function stopAutofill() {
  if (autofill) autofill.abort();
  autofill = null;
}

async function startAutofill() {
  stopAutofill();
  if (!passkeysSupported() || !PublicKeyCredential.isConditionalMediationAvailable) return;
  const controller = new AbortController();
  autofill = controller;
  // Options live 5 minutes: renew a request still waiting after 4.5, so that a passkey
  // picked from the autofill later is not answered "challenge expired".
  const renew = setTimeout(() => {
    if (autofill === controller) startAutofill();
  }, RENEW_AUTOFILL_MS);
  controller.signal.addEventListener("abort", () => clearTimeout(renew));
  let credential;
  try {
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    const body = await api(`${PASSKEYS}/login/options`, { method: "POST" });
    if (controller.signal.aborted) return;
    credential = await navigator.credentials.get({
      publicKey: requestOptionsFromJSON(body.data.options),
      mediation: "conditional",
      signal: controller.signal,
    });
  } catch {
    // Aborted (a button press, a login), ended without a choice, or no passkeys on
    // this address (a page opened at 127.0.0.1 is not on the RP ID localhost): the
    // person did nothing, so nothing is said. The button reports its own errors.
    return;
  } finally {
    if (autofill === controller) autofill = null;
  }
  await finishPasskeyLogin(credential);
}

async function finishPasskeyLogin(credential) {
  try {
    await api(`${PASSKEYS}/login`, { method: "POST", json: { credential: credentialToJSON(credential) } });
    $("#login-form").reset();
    await loadAccount();
  } catch (error) {
    reportPasskeyError(error);
    startAutofill(); // a fresh challenge for the next try
  }
}

// The button: ask for a passkey now (a modal browser prompt).
async function passkeyLogin() {
  clearMessage();
  stopAutofill(); // one WebAuthn request at a time
  let credential;
  try {
    const body = await api(`${PASSKEYS}/login/options`, { method: "POST" });
    credential = await navigator.credentials.get({
      publicKey: requestOptionsFromJSON(body.data.options),
    });
  } catch (error) {
    reportPasskeyError(error);
    startAutofill();
    return;
  }
  await finishPasskeyLogin(credential);
}

// After a right password, for an account that asks for a second factor: options for
// the mfa_token, then the assertion to POST /api/auth/login/mfa. Resolves once logged in.
async function passkeySecondFactor(mfaToken) {
  stopAutofill();
  const body = await api("/api/auth/login/mfa/passkey-options", {
    method: "POST",
    json: { mfa_token: mfaToken },
  });
  const credential = await navigator.credentials.get({
    publicKey: requestOptionsFromJSON(body.data.options),
  });
  await api("/api/auth/login/mfa", {
    method: "POST",
    json: { mfa_token: mfaToken, credential: credentialToJSON(credential) },
  });
  await loadAccount();
}

// ---------------------------------------------------------------------------
// Managing passkeys (logged in)

async function loadPasskeys() {
  const body = await api(PASSKEYS);
  renderPasskeys(body.data.passkeys);
}

function renderPasskeys(passkeys) {
  const rows = passkeys.map(passkeyRow);
  if (rows.length === 0) {
    const empty = el("tr");
    empty.append(el("td", { colspan: "5", class: "muted" }, "No passkeys yet."));
    rows.push(empty);
  }
  $("#passkeys-list").replaceChildren(...rows);
}

function passkeyRow(passkey) {
  const row = el("tr", { "data-testid": "passkey-row", "data-passkey-id": passkey.id });
  const name = el("input", {
    "data-testid": "passkey-name-input",
    "aria-label": "Passkey name",
    maxlength: "64",
  });
  name.value = passkey.name;
  const nameCell = el("td", { class: "name" });
  nameCell.append(name);
  const rename = el(
    "button",
    { type: "button", class: "secondary small", "data-testid": "passkey-rename" },
    "Rename",
  );
  rename.addEventListener("click", () => busy(rename, () => renamePasskey(passkey, name.value)));
  const remove = el(
    "button",
    { type: "button", class: "danger small", "data-testid": "passkey-remove" },
    "Remove",
  );
  remove.addEventListener("click", () => busy(remove, () => removePasskey(passkey)));
  const actions = el("td", { class: "end" });
  actions.append(rename, remove);
  row.append(
    nameCell,
    el("td", {}, formatTime(passkey.created_at)),
    el("td", { "data-testid": "passkey-last-used" }, passkey.last_used_at ? formatTime(passkey.last_used_at) : "never"),
    el("td", {}, passkey.backed_up ? "yes" : "no"),
    actions,
  );
  return row;
}

async function addPasskey(event) {
  event.preventDefault();
  clearMessage();
  const name = $("#passkey-name").value.trim();
  await busy($("#passkey-add"), async () => {
    try {
      const body = await api(`${PASSKEYS}/register/options`, { method: "POST" });
      const credential = await navigator.credentials.create({
        publicKey: creationOptionsFromJSON(body.data.options),
      });
      const payload = { credential: credentialToJSON(credential) };
      if (name) payload.name = name;
      const added = await api(`${PASSKEYS}/register`, { method: "POST", json: payload });
      $("#passkey-add-form").reset();
      showMessage(`Passkey "${added.data.passkey.name}" added.`, "success");
      await loadPasskeys();
    } catch (error) {
      reportPasskeyError(error);
    }
  });
}

async function renamePasskey(passkey, name) {
  clearMessage();
  try {
    const body = await api(`${PASSKEYS}/${encodeURIComponent(passkey.id)}`, {
      method: "PATCH",
      json: { name },
    });
    showMessage(`Passkey renamed to "${body.data.passkey.name}".`, "success");
    await loadPasskeys();
  } catch (error) {
    report(error);
  }
}

// What confirms a removal: the password or a current code typed in the field, else a
// passkey's answer (an account made by a provider or an emailed code has no password).
async function removalProof() {
  const secret = $("#passkey-confirm").value;
  if (!secret) {
    const body = await api(`${PASSKEYS}/reauth/options`, { method: "POST" });
    const credential = await navigator.credentials.get({
      publicKey: requestOptionsFromJSON(body.data.options),
    });
    return { credential: credentialToJSON(credential) };
  }
  // A current authenticator code is digits only; a password has at least 8 characters.
  return /^\d{6}$/.test(secret) ? { code: secret } : { password: secret };
}

async function removePasskey(passkey) {
  clearMessage();
  try {
    const proof = await removalProof();
    await api(`${PASSKEYS}/${encodeURIComponent(passkey.id)}`, { method: "DELETE", json: proof });
    $("#passkey-confirm").value = "";
    showMessage(`Passkey "${passkey.name}" removed.`, "success");
    await loadPasskeys();
  } catch (error) {
    reportPasskeyError(error);
  }
}

// ---------------------------------------------------------------------------
// Wiring: follow app.js's auth state (body[data-auth]).

// app.js sets data-auth on every answer about who we are; act on changes only. The
// autofill request starts when the page opens logged out, and again whenever the
// email field gets the focus without one pending (after a logout, a failed try).
let shownAuth = "unknown";

function onAuthChange() {
  const auth = document.body.dataset.auth;
  if (auth === shownAuth) return;
  const opening = shownAuth === "unknown";
  shownAuth = auth;
  if (auth === "in") {
    stopAutofill();
    loadPasskeys().catch((error) => report(error));
  } else if (auth === "out") {
    $("#passkeys-list").replaceChildren();
    if (opening) startAutofill();
  }
}

function initPasskeys() {
  $("#passkey-add-form").addEventListener("submit", addPasskey);
  // Enter in the confirmation field must not reload the page.
  $("#passkey-confirm-form").addEventListener("submit", (event) => event.preventDefault());
  const button = $("#passkey-login");
  button.addEventListener("click", () => busy(button, passkeyLogin));
  if (!passkeysSupported()) {
    button.disabled = true;
    button.title = "This browser does not support passkeys";
  }
  $("#login-email").addEventListener("focus", () => {
    if (!autofill && document.body.dataset.auth === "out") startAutofill();
  });
  new MutationObserver(onAuthChange).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-auth"],
  });
  onAuthChange();
}

initPasskeys();
