// authapi browser demo: plain JavaScript, no build step, no dependencies.
//
// The access and refresh tokens are HttpOnly cookies, so this script never sees them;
// it only reads the `logged_in` flag cookie. Every request goes through `api()`, which
// implements the tutorial's interceptor: a 401 whose message is exactly
// "You are not logged in" (no access token, or an expired one) triggers one call to
// GET /api/auth/refresh and one retry of the original request.
"use strict";

const NOT_LOGGED_IN = "You are not logged in";
const REFRESH_FAILED = "Your session has ended. Please log in again.";

// ---------------------------------------------------------------------------
// HTTP

class ApiError extends Error {
  constructor(status, body, { loggedOut = false } = {}) {
    super(body.message || `Request failed (HTTP ${status})`);
    this.status = status;
    this.errors = body.errors || {};
    this.body = body; // e.g. the code and mfa_token of a 403 mfa_required
    // True when the server no longer accepts us: the page should show logged-out.
    this.loggedOut = loggedOut;
  }
}

// One fetch: cookies included, JSON in and out. Resolves for any HTTP status;
// rejects only on a network failure.
async function send(path, { method = "GET", json } = {}) {
  const init = { method, credentials: "include", headers: { Accept: "application/json" } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await fetch(path, init);
  return { status: response.status, ok: response.ok, body: await readJson(response) };
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return {}; // every authapi response is JSON; this guards against proxies' error pages
  }
}

// Concurrent callers that all hit an expired access token share one refresh: the
// refresh token is rotated on use, so parallel refreshes would race each other.
let refreshInFlight = null;
// Finished refresh attempts and how the last one went. A request sent before a
// refresh finished may get its 401 only after that refresh is over: the finished
// attempt already decided for it (retry with the new cookie, or logged out).
let refreshesDone = 0;
let lastRefreshOk = false;

function refreshAccessToken() {
  if (!refreshInFlight) {
    refreshInFlight = send("/api/auth/refresh")
      .then((result) => {
        refreshesDone += 1;
        lastRefreshOk = result.ok;
        return result.ok;
      })
      .finally(() => {
        refreshInFlight = null;
      });
  }
  return refreshInFlight;
}

// The interceptor. Resolves with the JSON body of a 2xx, throws ApiError otherwise.
async function api(path, options = {}) {
  const refreshesBefore = refreshesDone;
  let result = await send(path, options);
  if (result.status === 401 && result.body.message === NOT_LOGGED_IN) {
    const refreshed =
      refreshesDone !== refreshesBefore ? lastRefreshOk : await refreshAccessToken();
    if (!refreshed) {
      renderCookieStatus();
      throw new ApiError(403, { message: REFRESH_FAILED }, { loggedOut: true });
    }
    result = await send(path, options); // retried once only, whatever it answers
  }
  renderCookieStatus();
  if (!result.ok) {
    // Any other 401 (revoked session, invalid token) cannot be cured by a refresh.
    throw new ApiError(result.status, result.body, { loggedOut: result.status === 401 });
  }
  return result.body;
}

// ---------------------------------------------------------------------------
// Small DOM helpers

const $ = (selector) => document.querySelector(selector);

function byTestId(id) {
  return document.querySelector(`[data-testid="${id}"]`);
}

function showMessage(text, kind = "error") {
  const element = $("#message");
  element.textContent = text || "";
  element.dataset.kind = kind;
  element.hidden = !text;
}

function clearMessage() {
  showMessage("");
}

function el(tag, attributes = {}, text = "") {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.textContent = text; // never innerHTML: user agents and names come from users
  return element;
}

// A short label such as "Chrome 156 on Linux"; the full string is in the tooltip.
function describeUserAgent(userAgent) {
  if (!userAgent) return "Unknown device";
  const browsers = [
    ["Edge", /Edg\/(\d+)/],
    ["Firefox", /Firefox\/(\d+)/],
    ["Headless Chrome", /HeadlessChrome\/(\d+)/],
    ["Chrome", /Chrome\/(\d+)/],
    ["Safari", /Version\/(\d+).*Safari/],
  ];
  const systems = [
    ["Android", /Android/],
    ["iOS", /iPhone|iPad/],
    ["Windows", /Windows/],
    ["macOS", /Mac OS X/],
    ["Linux", /Linux/],
  ];
  const browser = browsers.find(([, pattern]) => pattern.test(userAgent));
  const system = systems.find(([, pattern]) => pattern.test(userAgent));
  if (!browser) return userAgent;
  const version = userAgent.match(browser[1])[1];
  return `${browser[0]} ${version}${system ? ` on ${system[0]}` : ""}`;
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

// Disable a button while its action runs, so a double click sends one request.
async function busy(button, action) {
  button.disabled = true;
  try {
    await action();
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------
// Status line and auth state

function readCookies() {
  const cookies = {};
  for (const pair of document.cookie.split(";")) {
    const [name, ...rest] = pair.trim().split("=");
    if (name) cookies[name] = rest.join("=");
  }
  return cookies;
}

function renderCookieStatus() {
  const flag = readCookies().logged_in === "true";
  $("#document-cookie").textContent = document.cookie || "(empty)";
  const badge = $("#logged-in-flag");
  badge.textContent = flag ? "set (true)" : "not set";
  badge.dataset.on = String(flag);
}

function setLoggedIn(user) {
  document.body.dataset.auth = "in";
  const state = $("#auth-state");
  state.textContent = `Logged in as ${user.name} <${user.email}>`;
  state.dataset.on = "true";
  byTestId("me-name").textContent = user.name;
  byTestId("me-email").textContent = user.email;
  byTestId("me-role").textContent = user.role;
  byTestId("me-id").textContent = user.id;
  renderCookieStatus();
  window.authapiMfa?.loggedIn(); // mfa.js
}

function setLoggedOut(reason) {
  document.body.dataset.auth = "out";
  const state = $("#auth-state");
  state.textContent = "Logged out";
  state.dataset.on = "false";
  for (const id of ["me-name", "me-email", "me-role", "me-id"]) byTestId(id).textContent = "";
  $("#sessions-list").replaceChildren();
  forgetLoggedInFlag();
  renderCookieStatus();
  if (reason) showMessage(reason, "error");
}

// The server said we are logged out but the readable flag may still be there (a
// revoked session leaves the browser's cookies in place). It is ours to read, so
// drop it to keep the status line honest; the HttpOnly cookies are out of reach.
function forgetLoggedInFlag() {
  if (readCookies().logged_in === undefined) return;
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `logged_in=; Max-Age=0; Path=/; SameSite=Lax${secure}`;
}

// Show an error from any action: logged-out errors switch the whole page.
function report(error, { quiet = false } = {}) {
  if (error instanceof ApiError && error.loggedOut) {
    setLoggedOut(quiet ? null : error.message);
  } else if (error instanceof ApiError) {
    showMessage(error.message, "error");
  } else {
    showMessage(`Network error: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------------------
// Forms and validation errors

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

// Put each field's messages under its input; anything without a slot
// (e.g. marshmallow's "_schema") joins the general message.
function showFieldErrors(form, errors) {
  const unplaced = [];
  const slots = new Map(
    [...form.querySelectorAll(".field-error")].map((slot) => [slot.dataset.field, slot]),
  );
  for (const slot of slots.values()) slot.textContent = "";
  for (const input of form.querySelectorAll("input")) input.removeAttribute("aria-invalid");
  for (const [field, messages] of Object.entries(errors || {})) {
    const text = [].concat(messages).join(" ");
    const slot = slots.get(field);
    if (slot) {
      slot.textContent = text;
      form.elements[field]?.setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(text);
    }
  }
  return unplaced;
}

function reportFormError(form, error) {
  if (!(error instanceof ApiError)) return report(error);
  const unplaced = showFieldErrors(form, error.errors);
  showMessage([error.message, ...unplaced].join(" "), "error");
}

async function onRegister(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearMessage();
  showFieldErrors(form, {});
  await busy($("#register-submit"), async () => {
    try {
      const body = await api("/api/auth/register", { method: "POST", json: formValues(form) });
      const user = body.data.user;
      form.reset();
      $("#login-email").value = user.email;
      $("#login-password").focus();
      showMessage(`Account created for ${user.email}. You can log in now.`, "success");
    } catch (error) {
      reportFormError(form, error);
    }
  });
}

async function onLogin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearMessage();
  showFieldErrors(form, {});
  await busy($("#login-submit"), async () => {
    try {
      await api("/api/auth/login", { method: "POST", json: formValues(form) });
      form.reset();
      await loadAccount();
    } catch (error) {
      if (window.authapiMfa?.askForSecondFactor(error)) return form.reset(); // mfa.js
      reportFormError(form, error);
    }
  });
}

// ---------------------------------------------------------------------------
// Me and sessions

async function loadMe() {
  const body = await api("/api/users/me");
  setLoggedIn(body.data.user);
}

async function loadSessions() {
  const body = await api("/api/auth/sessions");
  renderSessions(body.data.sessions);
}

// Both at once: with an expired access token they share a single refresh.
async function loadAccount({ quiet = false } = {}) {
  const results = await Promise.allSettled([loadMe(), loadSessions()]);
  const failure = results.find((result) => result.status === "rejected");
  if (failure) report(failure.reason, { quiet });
}

function renderSessions(sessions) {
  const rows = sessions.map(sessionRow);
  if (rows.length === 0) {
    const empty = el("tr");
    empty.append(el("td", { colspan: "5", class: "muted" }, "No sessions."));
    rows.push(empty);
  }
  $("#sessions-list").replaceChildren(...rows);
}

function sessionRow(session) {
  const row = el("tr", {
    "data-testid": "session-row",
    "data-session-id": session.id,
    "data-current": String(session.current),
  });
  const device = el("td", { class: "device", title: session.user_agent });
  device.append(el("span", { class: "ua" }, describeUserAgent(session.user_agent)));
  if (session.current) {
    device.append(el("span", { class: "pill", "data-testid": "session-current" }, "this device"));
  }
  const end = el(
    "button",
    { type: "button", class: "danger small", "data-testid": "end-session" },
    session.current ? "End (log out)" : "End",
  );
  end.addEventListener("click", () => busy(end, () => endSession(session)));
  const action = el("td", { class: "end" });
  action.append(end);
  row.append(
    device,
    el("td", { class: "mono" }, session.ip),
    el("td", {}, formatTime(session.created_at)),
    el("td", {}, formatTime(session.last_used_at)),
    action,
  );
  return row;
}

async function endSession(session) {
  clearMessage();
  try {
    await api(`/api/auth/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
    if (session.current) {
      setLoggedOut(null); // the server also cleared our cookies
      showMessage("This session has ended.", "info");
    } else {
      showMessage("Session ended. That device is now logged out.", "success");
      await loadSessions();
    }
  } catch (error) {
    report(error);
  }
}

async function logout() {
  clearMessage();
  try {
    await api("/api/auth/logout");
    setLoggedOut(null);
    showMessage("Logged out.", "info");
  } catch (error) {
    report(error);
  }
}

// ---------------------------------------------------------------------------
// Wiring

function run(action) {
  return async () => {
    clearMessage();
    try {
      await action();
    } catch (error) {
      report(error);
    }
  };
}

function init() {
  $("#register-form").addEventListener("submit", onRegister);
  $("#login-form").addEventListener("submit", onLogin);
  const refreshMe = $("#refresh-me");
  refreshMe.addEventListener("click", () => busy(refreshMe, run(loadMe)));
  const reloadSessions = $("#reload-sessions");
  reloadSessions.addEventListener("click", () => busy(reloadSessions, run(loadSessions)));
  const reloadAll = $("#reload-all");
  reloadAll.addEventListener("click", () =>
    busy(reloadAll, () => {
      clearMessage();
      return loadAccount();
    }),
  );
  const logoutButton = $("#logout");
  logoutButton.addEventListener("click", () => busy(logoutButton, logout));
  // Cookies can change while the tab sits in the background (expiry, another tab).
  document.addEventListener("visibilitychange", renderCookieStatus);

  renderCookieStatus();
  // On load, ask who we are only when the readable logged_in flag says a login is
  // alive (as the tutorial's front end does): with no flag, nobody is logged in here,
  // and asking would cost /me, /sessions and a refresh, each a 4xx in the console.
  // The flag lives as long as the access token; past that, the person logs in again.
  const loggedIn = readCookies().logged_in === "true";
  if (!loggedIn) setLoggedOut(null);
  Promise.resolve(loggedIn ? loadAccount({ quiet: true }) : null).finally(() => {
    document.body.dataset.ready = "true";
  });
}

init();
