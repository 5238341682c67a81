// The page verification emails link to: /api/auth/verifyemail/<code>. Opening it
// changes nothing; the button sends POST to the same URL and shows the answer.
"use strict";

function showMessage(text, kind) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.dataset.kind = kind;
  message.hidden = false;
}

async function submitVerification(event) {
  event.preventDefault();
  const form = event.target;
  const response = await fetch(window.location.pathname, {
    method: "POST",
    credentials: "omit",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  const body = await response.json();
  if (response.ok) form.hidden = true;
  showMessage(body.message, response.ok ? "success" : "error");
}

document.getElementById("verify-form").addEventListener("submit", submitVerification);
