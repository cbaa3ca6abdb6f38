// Small enhancements; every page works without this file.
// Copy buttons: <button class="copy" data-copy="#element-id">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  navigator.clipboard.writeText(text.trim()).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});

// Dates shown as "3 days ago", with the exact date kept as the tooltip.
function relativeTime(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) {
      const n = Math.floor(seconds / size);
      return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
    }
  }
  return "just now";
}
for (const el of document.querySelectorAll("time[datetime]")) {
  const date = new Date(el.getAttribute("datetime"));
  if (isNaN(date)) continue;
  el.title = el.textContent;
  el.textContent = relativeTime(date);
}

// Line ranges in files: #L10-L20 marks lines 10 to 20; shift-click extends.
function markLines() {
  const match = /^#L(\d+)(?:-L(\d+))?$/.exec(location.hash);
  for (const a of document.querySelectorAll(".gutter a.selected")) a.classList.remove("selected");
  if (!match) return;
  const from = Number(match[1]);
  const to = Number(match[2] || match[1]);
  for (let n = Math.min(from, to); n <= Math.max(from, to); n++) {
    document.getElementById(`L${n}`)?.classList.add("selected");
  }
}
let anchorLine = null;
document.addEventListener("click", (event) => {
  const a = event.target.closest(".gutter a");
  if (!a) return;
  const n = Number(a.id.slice(1));
  if (event.shiftKey && anchorLine !== null) {
    event.preventDefault();
    history.replaceState(null, "", `#L${Math.min(anchorLine, n)}-L${Math.max(anchorLine, n)}`);
    markLines();
  } else {
    anchorLine = n;
  }
});
window.addEventListener("hashchange", markLines);
markLines();

// A running job's log streams in (Server-Sent Events), a section per step;
// step states follow, and the page reloads once the job is done to show
// the final result.
const log = document.querySelector(".log[data-stream]");
if (log && window.EventSource) {
  const source = new EventSource(log.dataset.stream);
  const section = (title) => {
    const details = document.createElement("details");
    details.open = true;
    const summary = document.createElement("summary");
    summary.textContent = title;
    details.append(summary, document.createElement("pre"));
    log.append(details);
    return details.querySelector("pre");
  };
  // A step's own groups (##[group]) nest in its section.
  const group = (title) => {
    const step = pre.closest(".log > details");
    const details = document.createElement("details");
    details.className = "group";
    const summary = document.createElement("summary");
    summary.textContent = title;
    details.append(summary, document.createElement("pre"));
    step.append(details);
    return details.querySelector("pre");
  };
  const after = () => {
    const rest = document.createElement("pre");
    pre.closest(".log > details").append(rest);
    return rest;
  };
  let pre = log.querySelector(".log > details:last-of-type pre:last-of-type") || section("Set up job");
  source.addEventListener("log", (event) => {
    const follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    for (const line of event.data.split("\n")) {
      const text = line.slice(line.indexOf(" ") + 1);
      if (text.startsWith("::group::")) pre = section(text.slice(9));
      else if (text === "::endgroup::") pre = section("Complete job");
      else if (text.startsWith("##[group]")) pre = group(text.slice(9));
      else if (text === "##[endgroup]") pre = after();
      else pre.append(document.createTextNode(line + "\n"));
    }
    if (follow) log.scrollTop = log.scrollHeight;
  });
  source.addEventListener("steps", (event) => {
    for (const step of JSON.parse(event.data)) {
      const li = document.querySelector(`li[data-step="${step.number}"]`);
      if (!li) continue;
      const status = li.querySelector(".status");
      status.className = `status ${step.state}`;
      status.textContent = step.symbol;
      const word = li.querySelector(".word");
      if (word) word.textContent = step.state;
    }
  });
  source.addEventListener("problem", (event) => {
    source.close();
    pre.append(document.createTextNode(`Hearth: ${event.data}\n`));
  });
  source.addEventListener("end", () => {
    source.close();
    location.reload();
  });
}

// Pull request files: clicking a line number of the diff picks that line
// for the review form's line comment (without this, type file and line).
const review = document.querySelector("form#review");
if (review) {
  for (const cell of document.querySelectorAll("section.diff[data-path] table.hunks th")) {
    if (!cell.textContent.trim()) continue;
    cell.classList.add("pick");
    cell.title = "Comment on this line";
  }
  document.addEventListener("click", (event) => {
    const cell = event.target.closest("th.pick");
    if (!cell) return;
    const section = cell.closest("section.diff[data-path]");
    const row = cell.parentElement;
    // The first number column is the old side, the second the new side.
    const left = cell === row.cells[0] && !row.classList.contains("ctx");
    review.elements.path.value = section.dataset.path;
    review.elements.line.value = cell.textContent.trim();
    review.elements.side.value = left ? "LEFT" : "RIGHT";
    review.elements.comment.focus();
  });
}
