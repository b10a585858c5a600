// doable's own script: small touches on top of htmx. Everything works
// without it; nothing here is needed for correctness.
"use strict";

document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  // A task was added: clear the form and keep typing.
  if (form.id === "new-task" && event.detail.successful && event.detail.xhr.status < 300) {
    form.reset();
    document.getElementById("new-title")?.focus();
  }
});

document.addEventListener("htmx:responseError", (event) => {
  const announcer = document.getElementById("announcer");
  const status = event.detail.xhr.status;
  if (announcer) {
    announcer.textContent = status === 404
      ? "That task no longer exists. Reload the page."
      : "Something went wrong. Reload the page and try again.";
  }
});

// Escape in an inline edit form cancels it.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const form = event.target.closest?.(".task.editing form");
  form?.querySelector("a.cancel")?.click();
});
