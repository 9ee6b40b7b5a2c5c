// The forms behind the links Keel mails: read the token from the link, post it to the API, say what happened.
"use strict";
(function () {
  const form = document.querySelector("form[data-endpoint]");
  const status = document.getElementById("status");
  const token = new URLSearchParams(window.location.search).get("token") || "";
  // the token stays out of the address bar (and of screenshots and history) once read
  window.history.replaceState(null, "", window.location.pathname);

  function say(text, kind) {
    status.textContent = text;
    status.className = kind;
  }

  if (!token) {
    say("This link has no token. Open the link from your email again.", "error");
    form.querySelector("button").disabled = true;
    return;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const body = { token: token };
    const password = form.querySelector("[name=new_password]");
    if (password) {
      const repeat = form.querySelector("[name=repeat_password]");
      if (password.value !== repeat.value) {
        say("The two passwords differ.", "error");
        repeat.focus();
        return;
      }
      body.new_password = password.value;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    say("Sending…", "");
    try {
      const response = await fetch(form.dataset.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(function () { return {}; });
      if (response.ok) {
        form.hidden = true;
        say(form.id === "reset-password"
          ? "Your password is changed. You can log in with it now."
          : "Your email address is confirmed.", "done");
        return;
      }
      const error = answer.error || {};
      const details = error.details ? Object.values(error.details).join(" ") : "";
      say((error.message || "That did not work.") + (details ? " " + details : ""), "error");
    } catch (problem) {
      say("The server could not be reached. Try again in a moment.", "error");
    }
    button.disabled = false;
  });
})();
