// authapi browser demo: second factors (TOTP and recovery codes). Uses app.js's
// helpers (api, busy, byTestId, el, showMessage, report, loadAccount).
//
// - Login: a 403 whose body has code "mfa_required" shows the second step, which
//   sends {mfa_token, code} (or {mfa_token, recovery_code}) to /api/auth/login/mfa.
// - Logged in: the "Second factor" card sets up TOTP (QR as an <img> from the SVG the
//   server sends: never inserted as HTML), shows the recovery codes once, and turns
//   TOTP off or replaces the codes with the password or a current code.
"use strict";

(() => {
  let mfaToken = null;
  let useRecovery = false;

  const card = () => byTestId("mfa-login-card");

  function setLoginStep(token, methods) {
    mfaToken = token;
    useRecovery = false;
    card().hidden = !token;
    byTestId("mfa-use-recovery").hidden = !(methods || []).includes("recovery_code");
    // passkeys.js: a passkey can answer too; with no code to type, only the button.
    byTestId("mfa-use-passkey").hidden = !(methods || []).includes("passkey");
    const codes = (methods || []).some((method) => method !== "passkey");
    for (const id of ["mfa-login-code", "mfa-login-submit"]) byTestId(id).hidden = !!token && !codes;
    $("#mfa-login-label").hidden = !!token && !codes;
    $("#mfa-login-label").textContent = "Code from your authenticator app";
    byTestId("mfa-login-code").value = "";
    if (token) byTestId("mfa-login-code").focus();
  }

  function askForSecondFactor(error) {
    if (!(error instanceof ApiError) || error.body?.code !== "mfa_required") return false;
    setLoginStep(error.body.mfa_token, error.body.methods);
    const passkeyOnly = !(error.body.methods || []).some((method) => method !== "passkey");
    showMessage(
      passkeyOnly
        ? "Password accepted. Confirm with your passkey."
        : "Password accepted. Enter the code from your authenticator app.",
      "info",
    );
    return true;
  }

  async function onSecondFactor(event) {
    event.preventDefault();
    clearMessage();
    const value = byTestId("mfa-login-code").value.trim();
    const proof = useRecovery ? { recovery_code: value } : { code: value };
    await busy($("#mfa-login-submit"), async () => {
      try {
        await api("/api/auth/login/mfa", { method: "POST", json: { mfa_token: mfaToken, ...proof } });
        setLoginStep(null);
        await loadAccount();
      } catch (error) {
        if (error instanceof ApiError && error.status !== 400) setLoginStep(null); // log in again
        report(error);
      }
    });
  }

  // passkeys.js's passkeySecondFactor: options for this mfa_token, the browser's
  // prompt, then POST /api/auth/login/mfa {mfa_token, credential}.
  async function usePasskey() {
    clearMessage();
    try {
      await passkeySecondFactor(mfaToken);
      setLoginStep(null);
    } catch (error) {
      if (error instanceof ApiError && error.status !== 400) setLoginStep(null); // log in again
      reportPasskeyError(error);
    }
  }

  function switchToRecovery() {
    useRecovery = true;
    $("#mfa-login-label").textContent = "One of your recovery codes";
    byTestId("mfa-login-code").setAttribute("inputmode", "text");
    byTestId("mfa-login-code").focus();
  }

  // --- the logged-in card ---

  function renderStatus(data) {
    const text = data.totp
      ? `Authenticator app: on. Recovery codes left: ${data.recovery_codes_left}.`
      : "Authenticator app: off. Your password alone signs you in.";
    byTestId("mfa-status").textContent = text;
    byTestId("mfa-status").dataset.totp = String(data.totp);
    byTestId("mfa-start").hidden = data.totp;
    byTestId("mfa-manage-form").hidden = !data.totp;
  }

  async function loadStatus() {
    const body = await api("/api/auth/mfa");
    renderStatus(body.data);
  }

  async function startSetup() {
    const body = await api("/api/auth/mfa/totp", { method: "POST" });
    const { secret, qr_svg: svg } = body.data;
    byTestId("mfa-qr").src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    byTestId("mfa-secret").textContent = secret;
    byTestId("mfa-setup").hidden = false;
    byTestId("mfa-start").hidden = true; // until confirmed or the page reloads
    byTestId("mfa-confirm-code").focus();
  }

  function showCodes(codes) {
    byTestId("mfa-codes-list").replaceChildren(
      ...codes.map((code) => el("li", { "data-testid": "mfa-code" }, code)),
    );
    byTestId("mfa-codes").hidden = false;
  }

  function hideCodes() {
    byTestId("mfa-codes-list").replaceChildren(); // shown once: gone from the page
    byTestId("mfa-codes").hidden = true;
  }

  async function confirmSetup(event) {
    event.preventDefault();
    clearMessage();
    const code = byTestId("mfa-confirm-code").value.trim();
    try {
      const body = await api("/api/auth/mfa/totp/confirm", { method: "POST", json: { code } });
      byTestId("mfa-setup").hidden = true;
      byTestId("mfa-secret").textContent = "";
      byTestId("mfa-qr").removeAttribute("src");
      byTestId("mfa-confirm-code").value = "";
      showCodes(body.data.recovery_codes);
      showMessage("Authenticator app turned on.", "success");
      await loadStatus();
    } catch (error) {
      report(error);
    }
  }

  // The one input takes the password or a 6-digit code.
  function proof() {
    const value = byTestId("mfa-manage-proof").value;
    byTestId("mfa-manage-proof").value = "";
    return /^\d{6}$/.test(value.trim()) ? { code: value.trim() } : { password: value };
  }

  async function newCodes() {
    const body = await api("/api/auth/mfa/recovery-codes", { method: "POST", json: proof() });
    showCodes(body.data.recovery_codes);
    showMessage("New recovery codes: the old ones no longer work.", "success");
    await loadStatus();
  }

  async function disable() {
    await api("/api/auth/mfa/totp", { method: "DELETE", json: proof() });
    hideCodes();
    showMessage("Authenticator app turned off.", "info");
    await loadStatus();
  }

  function guarded(button, action) {
    return () =>
      busy(button, async () => {
        clearMessage();
        try {
          await action();
        } catch (error) {
          report(error);
        }
      });
  }

  $("#mfa-login-form").addEventListener("submit", onSecondFactor);
  byTestId("mfa-use-recovery").addEventListener("click", switchToRecovery);
  const passkeyButton = byTestId("mfa-use-passkey");
  passkeyButton.addEventListener("click", () => busy(passkeyButton, usePasskey));
  byTestId("mfa-confirm-form").addEventListener("submit", confirmSetup);
  byTestId("mfa-codes-done").addEventListener("click", hideCodes);
  const start = byTestId("mfa-start");
  start.addEventListener("click", guarded(start, startSetup));
  const renew = byTestId("mfa-new-codes");
  renew.addEventListener("click", guarded(renew, newCodes));
  const off = byTestId("mfa-disable");
  off.addEventListener("click", guarded(off, disable));

  window.authapiMfa = {
    askForSecondFactor,
    loggedIn: () => {
      setLoginStep(null);
      loadStatus().catch((error) => report(error, { quiet: true }));
    },
  };
})();
