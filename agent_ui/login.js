// ThirdRing login: posts the form as JSON, then opens the calls page.
// The session cookie is HttpOnly: this script never sees it.
"use strict";

const form = document.getElementById("login-form");
const errorLine = document.getElementById("login-error");
const submit = document.getElementById("login-submit");

function showError(message) {
  errorLine.textContent = message;
  errorLine.hidden = false;
}

async function logIn(event) {
  event.preventDefault();
  const username = form.elements.namedItem("username").value;
  const password = form.elements.namedItem("password").value;
  if (!username || !password) {
    showError("Enter your username and password.");
    return;
  }
  submit.disabled = true;
  errorLine.hidden = true;
  try {
    const response = await fetch("/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
      cache: "no-store",
      credentials: "same-origin",
    });
    if (response.ok) {
      // Agents work in the workspace; supervisors and admins start on the calls page.
      const me = await response.json().catch(() => ({}));
      window.location.assign(me && me.role === "agent" ? "/workspace" : "/");
      return;
    }
    if (response.status === 429) {
      const wait = Number.parseInt(response.headers.get("Retry-After") || "", 10);
      const minutes = Number.isFinite(wait) ? Math.max(1, Math.ceil(wait / 60)) : null;
      showError(
        minutes
          ? `Too many failed attempts. Try again in ${minutes} minute${minutes > 1 ? "s" : ""}.`
          : "Too many failed attempts. Try again later.",
      );
    } else if (response.status === 401) {
      showError("Wrong username or password.");
    } else {
      showError(`Could not log in (HTTP ${response.status}).`);
    }
  } catch {
    showError("The service cannot be reached. Try again.");
  } finally {
    submit.disabled = false;
  }
  form.elements.namedItem("password").select();
}

form.addEventListener("submit", logIn);
