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

// Focus after a swap. htmx puts focus back on an element with the same id
// when the new list still has one (a toggle button, say). When it does not —
// the edit form closed, the task was deleted — keyboard users would be left
// at the top of the page, so we choose where they continue.
let refocusId = null;

document.addEventListener("htmx:beforeRequest", (event) => {
  refocusId = null;
  const item = event.detail.elt.closest?.("li.task");
  if (!item) return;
  const id = item.id.replace("task-", "");
  if (item.classList.contains("editing")) {
    refocusId = `edit-${id}`;
  } else if (event.detail.elt.matches?.("form.delete")) {
    const neighbour = item.nextElementSibling ?? item.previousElementSibling;
    refocusId = neighbour ? `delete-${neighbour.id.replace("task-", "")}` : "new-title";
  }
});

document.addEventListener("htmx:afterSettle", (event) => {
  // The swapped-in element (detail.elt is the one that made the request).
  const target = event.target;
  // The inline edit form arrived: start typing at the end of the title.
  if (target.matches?.("li.task.editing")) {
    const title = target.querySelector("input[name=title]");
    title?.focus();
    title?.setSelectionRange(title.value.length, title.value.length);
    return;
  }
  const lost = !document.activeElement || document.activeElement === document.body;
  if (refocusId && lost) {
    (document.getElementById(refocusId) ?? document.getElementById("new-title"))?.focus();
  }
  refocusId = null;
});
