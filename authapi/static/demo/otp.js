// The page the sign-in code email links to: /signin/otp#email=...&code=...
// The code is in the fragment (never sent to a server), and signing in takes a
// button press (a POST), so mail scanners that fetch the link cannot use it up.
"use strict";

function showMessage(text, kind) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.dataset.kind = kind;
  message.hidden = false;
}

const form = document.getElementById("otp-link-form");
const fragment = new URLSearchParams(window.location.hash.slice(1));
form.email.value = fragment.get("email") || "";
form.code.value = fragment.get("code") || "";
// Drop the code from the address bar and history.
history.replaceState(null, "", window.location.pathname);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/auth/otp/verify", {
    method: "POST",
    credentials: "include",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: form.email.value, code: form.code.value }),
  });
  const body = await response.json();
  if (response.ok) {
    form.hidden = true;
    showMessage("Signed in.", "success");
  } else {
    showMessage(body.message, "error");
  }
});
