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

// Focus after a swap. A task's controls carry no ids (they repeat 50 times a
// page), so htmx cannot put focus back by id itself. Before each request of
// the list we note where focus should go, best first: the same control of the
// same task; if the task left the view (done, in Active) or was deleted, that
// control of the next task, or of the one before; the same link of the list's
// navigation; else the list itself — never the top of the page.
let refocus = [];

// Which of a task's controls `control` is, as a selector within its item
// (its Done button for anything without one of its own, a label's chip say).
function controlKind(control) {
  if (control.matches(".move")) return `.move[value=${control.value}]`;
  return control.matches(".actions > a") ? ".actions > a" : ".check";
}

// The tasks before and after `item` in its list (day headings skipped).
function neighbours(item) {
  const tasks = [...item.parentElement.querySelectorAll(":scope > li.task")];
  const at = tasks.indexOf(item);
  return [tasks[at + 1], tasks[at - 1]].filter(Boolean);
}

document.addEventListener("htmx:beforeRequest", (event) => {
  // A task's buttons submit the list's shared form: the button says which task.
  const source = event.detail.requestConfig?.triggeringEvent?.submitter ?? event.detail.elt;
  refocus = [];
  if (!source.closest?.("#tasks")) return;
  // Focus stays where it was (a key moved the task in focus, say), else on what was used.
  const focused = document.activeElement?.closest?.("li.task") ? document.activeElement : source;
  const item = focused.closest?.("li.task");
  const editing = item?.classList.contains("editing");
  if (source.matches?.(".delete")) {
    // Deleted from its edit form: on to the next task's Edit, else the new-task field.
    refocus = [...neighbours(item).map((n) => `#${n.id} .actions > a`), "#new-title"];
  } else if (editing && (source.matches?.("form, a.cancel") || source.type === "submit")) {
    // Saved or cancelled: back to its Edit.
    refocus = [`#${item.id} .actions > a`, "#tasks"];
  } else if (item && !editing && (source.matches?.("button") || focused !== source)) {
    const kind = controlKind(focused);
    refocus = [item, ...neighbours(item)].map((task) => `#${task.id} ${kind}`);
    refocus.push("#tasks");
  } else if (source.matches?.("nav a[href]")) {
    // A list or view in the navigation: its link again, in the new list.
    refocus = [`#tasks nav a[href="${CSS.escape(source.getAttribute("href"))}"]`, "#tasks"];
  } else {
    refocus = ["#tasks"];
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
  if (lost) {
    refocus.map((selector) => document.querySelector(selector)).find(Boolean)?.focus();
  }
  refocus = [];
});

// Screen readers hear what a swap did: the list says it in data-announce,
// and #announcer (a live region that is never swapped) reads it out.
document.addEventListener("htmx:afterSettle", (event) => {
  // A form that came back with errors says what they are.
  const errors = [...(event.target.querySelectorAll?.(".field-error") ?? [])].map((e) => e.textContent.trim());
  const message = event.target.dataset?.announce || errors.join(" ");
  const announcer = document.getElementById("announcer");
  if (!message || !announcer) return;
  // Emptied first, so the same words twice in a row are read twice.
  announcer.textContent = "";
  setTimeout(() => { announcer.textContent = message; }, 50);
});

// Flash messages leave on their own: an Undo offer when its window closes,
// anything else after a few seconds. They float over the page, so nothing
// moves when they go.
function expireFlashes(root) {
  root.querySelectorAll?.(".flash").forEach((flash) => {
    const undoable = flash.querySelector("#undo");
    const seconds = undoable ? Number(flash.dataset.secondsLeft || 0) : 6;
    setTimeout(() => {
      const hadFocus = flash.contains(document.activeElement);
      flash.remove();
      if (hadFocus) document.getElementById("tasks")?.focus();
    }, seconds * 1000);
  });
}
document.addEventListener("DOMContentLoaded", () => expireFlashes(document));
document.addEventListener("htmx:afterSettle", (event) => expireFlashes(event.target));

// Keyboard shortcuts: n new task, / search, u undo, ? this list, and k, j, t
// to move the task in focus up, down or to the top. Never while
// typing, and never with a modifier (those belong to the browser).
function isTyping(element) {
  return element?.isContentEditable ||
    element?.matches?.("textarea, select, input:not([type=checkbox], [type=radio], [type=button], [type=submit], [type=reset])");
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
  const help = document.getElementById("shortcuts");
  if (help?.open) return;
  const focus = (id) => {
    const element = document.getElementById(id);
    if (!element) return;
    event.preventDefault();
    element.focus();
  };
  switch (event.key) {
    case "n": focus("new-title"); break;
    case "/": focus("search"); break;
    case "u": {
      const undo = document.getElementById("undo");
      if (undo) { event.preventDefault(); undo.click(); }
      break;
    }
    case "?":
      if (help) { event.preventDefault(); help.showModal(); }
      break;
    // The task in focus, in a list's manual order: its Move buttons.
    case "k": case "j": case "t": {
      const to = { k: "up", j: "down", t: "top" }[event.key];
      const button = event.target.closest?.("li.task")?.querySelector(`button.move[value=${to}]`);
      if (button) { event.preventDefault(); button.click(); }
      break;
    }
  }
});

// The shortcuts button only makes sense with this script, so it starts hidden.
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("show-shortcuts");
  const help = document.getElementById("shortcuts");
  if (!button || !help) return;
  button.hidden = false;
  button.addEventListener("click", () => help.showModal());
});
