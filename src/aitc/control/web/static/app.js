// aitc's pages work without this file; it adds two things, with no library:
// 1. regions marked data-refresh="N" reload their content every N seconds (not while the
//    tab is hidden or the keyboard focus is inside them);
// 2. <pre data-log="URL"> shows a job's output as it is written, polling URL with an offset
//    until the job has ended and everything has been read.
"use strict";

function refreshRegion(region) {
  const every = Number(region.dataset.refresh) * 1000;
  const tick = async () => {
    if (document.visibilityState === "visible" && !region.contains(document.activeElement)) {
      try {
        const answer = await fetch(location.href, { credentials: "same-origin" });
        if (answer.redirected || !answer.ok) return; // signed out, or gone: stop
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        const fresh = page.getElementById(region.id);
        if (fresh) region.innerHTML = fresh.innerHTML;
      } catch (e) { /* the server is away for a moment: try again at the next tick */ }
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}

function followLog(pre) {
  let offset = -1;
  const status = document.getElementById("log-status");
  pre.textContent = "";
  const poll = async () => {
    let ended = false, text = "";
    try {
      const answer = await fetch(pre.dataset.log + "&offset=" + offset, { credentials: "same-origin" });
      if (!answer.ok) { if (status) status.textContent = "The output cannot be shown."; return; }
      const part = await answer.json();
      text = part.text; offset = part.offset; ended = part.ended;
    } catch (e) { /* try again */ }
    if (text) {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(text);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
    if (ended && !text) {
      pre.dataset.done = "true";
      if (status) status.textContent = "The job has ended; its output is complete.";
      return;
    }
    setTimeout(poll, text ? 200 : 1000);
  };
  poll();
}

document.querySelectorAll("[data-refresh]").forEach(refreshRegion);
document.querySelectorAll("pre[data-log]").forEach(followLog);
const summary = document.querySelector(".error-summary");
if (summary) summary.focus();
