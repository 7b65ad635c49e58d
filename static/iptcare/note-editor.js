// Autosave for the note editor: saves the draft a moment after typing stops.
// A stale save (someone else saved since) shows both texts and never overwrites silently.
(function () {
  "use strict";
  const form = document.getElementById("note-editor");
  if (!form) return;
  const url = form.dataset.autosaveUrl;
  const status = document.getElementById("autosave-status");
  const version = form.querySelector("input[name=version]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const date = form.querySelector("input[name=session_date]");
  const panel = document.getElementById("autosave-conflict");
  const theirs = document.getElementById("autosave-their-text");
  let timer = null;
  let stopped = false;
  let pendingServerVersion = null;

  // Every editor field is named "<section>__<field>": text, choices and checkbox groups.
  function content() {
    const out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      const match = /^([a-z_]+)__([a-z_]+)$/.exec(el.name || "");
      if (!match) return;
      const section = (out[match[1]] = out[match[1]] || {});
      if (el.type === "checkbox") {
        section[match[2]] = section[match[2]] || [];
        if (el.checked) section[match[2]].push(el.value);
      } else {
        section[match[2]] = el.value;
      }
    });
    return out;
  }

  async function save() {
    if (stopped) return;
    status.textContent = "Saving…";
    let response;
    try {
      response = await fetch(url, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ version: Number(version.value), content: content(),
                               session_date: date ? date.value : null }),
      });
    } catch (err) {
      status.textContent = "Not saved (offline?). Your text is still here; use Save draft.";
      return;
    }
    const body = await response.json().catch(function () { return {}; });
    if (response.ok) {
      version.value = body.version;
      status.textContent = "Draft saved at " + new Date().toLocaleTimeString() + ".";
    } else if (response.status === 409 && body.current) {
      stopped = true;
      pendingServerVersion = body.current.version;
      const lines = [];
      Object.keys(body.current.content || {}).forEach(function (code) {
        const fields = body.current.content[code];
        Object.keys(fields).forEach(function (name) {
          lines.push(code + " · " + name + ":\n" + fields[name]);
        });
      });
      theirs.textContent = lines.join("\n\n");
      panel.hidden = false;
      status.textContent = "Autosave paused: see the other version above.";
    } else {
      status.textContent = "Not saved: " + (body.detail || response.status) + ". Use Save draft to see what is wrong.";
    }
  }

  form.addEventListener("change", function () { form.dispatchEvent(new Event("input")); });
  form.addEventListener("input", function () {
    if (stopped) return;
    status.textContent = "Unsaved changes…";
    clearTimeout(timer);
    timer = setTimeout(save, 1500);
  });
  document.getElementById("autosave-adopt").addEventListener("click", function () {
    if (pendingServerVersion !== null) version.value = pendingServerVersion;
    panel.hidden = true;
    stopped = false;
    save();
  });
})();
