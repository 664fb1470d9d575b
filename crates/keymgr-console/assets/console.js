// The console's only script: a running job's page follows its progress and reloads to show
// the result. Everything else works without script.
"use strict";

function followJob(box) {
  const url = box.getAttribute("data-status-url");
  const bar = box.querySelector("progress");
  const done = box.querySelector(".job-done");
  const total = box.querySelector(".job-total");
  const tick = () => {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("status " + r.status))))
      .then((s) => {
        bar.max = Math.max(s.total, 1);
        bar.value = s.done;
        done.textContent = String(s.done);
        total.textContent = String(s.total);
        if (s.finished) {
          window.location.reload();
        } else {
          window.setTimeout(tick, 400);
        }
      })
      .catch(() => window.setTimeout(tick, 2000));
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".job[data-status-url]").forEach(followJob);
});
