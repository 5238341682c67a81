// Sign in with another provider, linked providers in the settings, and emailed codes.
// Uses app.js's api(), showMessage(), loadAccount() and el() (loaded before this file).
//
// Provider buttons appear only when GET /api/auth/providers lists some (it answers 404
// when none is configured). After a provider sends the browser back here, the URL may
// carry ?error=<code> or ?linked=<provider>: shown once, then removed from the address.
"use strict";

const PROVIDER_ERRORS = {
  access_denied: "Sign-in was cancelled at the provider.",
  invalid_state: "That sign-in expired or was started elsewhere: please try again.",
  provider_unavailable: "The sign-in provider could not be reached: please retry shortly.",
  provider_refused: "The provider refused this sign-in: please try again.",
  invalid_token: "The provider's answer could not be verified: please try again.",
  email_required: "The provider did not share an email address.",
  account_exists:
    "An account with this email already exists: log in with your password, " +
    "then link the provider below your sessions.",
  account_disabled: "Your account has been disabled.",
  email_not_verified: "Please verify your email address: check your inbox.",
  identity_in_use: "That provider account is already linked to another user.",
  not_logged_in: "Your session ended before the link was made: log in and try again.",
};

let providers = [];

function comeBackTo() {
  return `${location.origin}/`;
}

function showReturnFromProvider() {
  const params = new URLSearchParams(location.search);
  const error = params.get("error");
  const linked = params.get("linked");
  if (error === "mfa_required") {
    // The provider signed us in; our second factor is next (mfa.js shows that step).
    const fragment = new URLSearchParams(location.hash.slice(1));
    const body = {
      code: "mfa_required",
      message: "Second factor required",
      mfa_token: fragment.get("mfa_token"),
      methods: (fragment.get("methods") || "").split(","),
    };
    window.authapiMfa?.askForSecondFactor(new ApiError(403, body));
  } else if (error) {
    showMessage(PROVIDER_ERRORS[error] || `Sign-in failed (${error}).`, "error");
  }
  else if (linked) showMessage(`${displayName(linked)} is now linked to your account.`, "success");
  if (error || linked) history.replaceState(null, "", location.pathname); // token too
}

function displayName(name) {
  return (providers.find((provider) => provider.name === name) || {}).display_name || name;
}

async function loadProviders() {
  // Not /api/auth/providers: that route does not exist while no provider is set.
  const result = await send("/signin/providers");
  providers = result.ok ? result.body.data.providers : [];
  const buttons = providers.map((provider) => {
    const link = el(
      "a",
      {
        class: "button",
        "data-testid": `sign-in-with-${provider.name}`,
        href:
          `/api/auth/oauth/${encodeURIComponent(provider.name)}/authorize?` +
          new URLSearchParams({ redirect_to: comeBackTo() }),
      },
      `Sign in with ${provider.display_name}`,
    );
    return link;
  });
  $("#provider-buttons").replaceChildren(...buttons);
  $("#providers-card").hidden = providers.length === 0;
}

async function loadIdentities() {
  if (providers.length === 0) return;
  let body;
  try {
    body = await api("/api/auth/identities");
  } catch (error) {
    report(error, { quiet: true });
    return;
  }
  const rows = body.data.identities.map((identity) => {
    const row = el("li", { "data-testid": "identity-row", "data-provider": identity.provider });
    row.append(
      el("span", {}, `${identity.display_name}: ${identity.email || "(no email)"} `),
    );
    const unlink = el(
      "button",
      { type: "button", class: "danger small", "data-testid": "unlink-identity" },
      "Unlink",
    );
    unlink.addEventListener("click", () => busy(unlink, () => unlinkIdentity(identity)));
    row.append(unlink);
    return row;
  });
  $("#identities-list").replaceChildren(...rows);
  const links = providers.map((provider) => {
    const button = el(
      "button",
      { type: "button", class: "secondary", "data-testid": `link-${provider.name}` },
      `Link ${provider.display_name}`,
    );
    button.addEventListener("click", () => busy(button, () => linkProvider(provider)));
    return button;
  });
  $("#link-buttons").replaceChildren(...links);
  $("#identities-panel").hidden = false;
}

async function linkProvider(provider) {
  clearMessage();
  try {
    const body = await api(`/api/auth/identities/${encodeURIComponent(provider.name)}/link`, {
      method: "POST",
      json: { redirect_to: comeBackTo() },
    });
    location.assign(body.data.authorization_url);
  } catch (error) {
    report(error);
  }
}

async function unlinkIdentity(identity) {
  clearMessage();
  try {
    await api(`/api/auth/identities/${encodeURIComponent(identity.id)}`, { method: "DELETE" });
    showMessage(`${identity.display_name} unlinked.`, "success");
  } catch (error) {
    report(error);
  }
  await loadIdentities();
}

async function onOtpRequest(event) {
  event.preventDefault();
  clearMessage();
  try {
    const body = await api("/api/auth/otp", {
      method: "POST",
      json: { email: $("#otp-email").value },
    });
    showMessage(body.message, "info");
    $("#otp-code").focus();
  } catch (error) {
    report(error);
  }
}

async function onOtpVerify(event) {
  event.preventDefault();
  clearMessage();
  try {
    await api("/api/auth/otp/verify", {
      method: "POST",
      json: { email: $("#otp-email").value, code: $("#otp-code").value },
    });
    event.currentTarget?.reset?.();
    await loadAccount();
  } catch (error) {
    if (window.authapiMfa?.askForSecondFactor(error)) return; // an account with a factor
    report(error);
  }
}

function initProviders() {
  $("#otp-request-form").addEventListener("submit", onOtpRequest);
  $("#otp-verify-form").addEventListener("submit", onOtpVerify);
  // Load the linked providers whenever the page switches to logged in.
  new MutationObserver(() => {
    if (document.body.dataset.auth === "in") loadIdentities();
  }).observe(document.body, { attributes: true, attributeFilter: ["data-auth"] });
  loadProviders().then(() => {
    showReturnFromProvider(); // after the list: the message names the provider
    if (document.body.dataset.auth === "in") loadIdentities();
  });
}

initProviders();
