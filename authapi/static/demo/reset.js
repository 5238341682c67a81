// The password-reset page that reset emails link to: /resetpassword/<token>.
// It sends PATCH /api/auth/resetpassword/<token> and shows the JSON envelope's answer.
"use strict";

function resetToken() {
  const parts = window.location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] || "");
}

function showMessage(text, kind) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.dataset.kind = kind;
  message.hidden = false;
}

function showFieldErrors(form, errors) {
  for (const slot of form.querySelectorAll(".field-error")) {
    const messages = (errors || {})[slot.dataset.field];
    slot.textContent = messages ? messages.join(" ") : "";
  }
}

async function submitReset(event) {
  event.preventDefault();
  const form = event.target;
  const response = await fetch(
    `/api/auth/resetpassword/${encodeURIComponent(resetToken())}`,
    {
      method: "PATCH",
      credentials: "include",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        password: form.password.value,
        passwordConfirm: form.passwordConfirm.value,
      }),
    },
  );
  const body = await response.json();
  showFieldErrors(form, body.errors);
  if (response.ok) {
    form.hidden = true;
    showMessage(body.message, "success");
  } else {
    showMessage(body.message, "error");
  }
}

document.getElementById("reset-form").addEventListener("submit", submitReset);
