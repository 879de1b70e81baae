// The digit reader's page: a drawing pad and a photo reader, both answered by POST /predict (the same
// reading as predict.py). Nothing is loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const pct = (p) => (100 * p).toFixed(1) + "%";
const INK = 22; // stroke width on the 280-pixel pad: MNIST's strokes are about a tenth of the digit's height
const EVERY_MS = 120; // while drawing, at most one request this often

// --- the API ------------------------------------------------------------------------------------

async function predict(body, name, probabilities) {
  const query = "?name=" + encodeURIComponent(name) + (probabilities ? "&probabilities=1" : "");
  const response = await fetch("/predict" + query, { method: "POST", body });
  const json = await response.json().catch(() => ({ error: "the server answered " + response.status }));
  if (!response.ok) throw new Error(json.error || "the server answered " + response.status);
  return json;
}

async function showRun() {
  try {
    const health = await (await fetch("/health")).json();
    $("run").textContent = `run ${health.run} · ${health.dataset} · test accuracy ${pct(health.test_accuracy)}`;
    const report = $("report");
    if (health.report) {
      const link = document.createElement("a");
      link.href = health.report;
      link.textContent = "the run's report";
      report.replaceChildren(link);
    } else {
      const code = document.createElement("code");
      code.textContent = health.make_report;
      report.replaceChildren("no report yet: make it with ", code);
    }
  } catch (e) {
    $("run").textContent = "the server does not answer";
  }
}

// --- the drawing pad ----------------------------------------------------------------------------

const pad = $("pad");
const pen = pad.getContext("2d");
let drawn = false; // any ink on the pad
let last = null; // the pen's last point while it is down
let asking = false; // a request is on its way
let again = false; // the drawing changed while it was
let lastAsked = 0;
let version = 0; // bumped by Clear: answers to older drawings are dropped

function clearPad() {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, pad.width, pad.height);
  drawn = false;
  version += 1;
  showAnswer(null);
  $("answer-note").textContent = "Draw a digit to see what the model reads.";
  $("answer-note").classList.remove("error");
}

function point(event) {
  const r = pad.getBoundingClientRect();
  return [((event.clientX - r.left) * pad.width) / r.width, ((event.clientY - r.top) * pad.height) / r.height];
}

function stroke(from, to) {
  pen.strokeStyle = "#000";
  pen.lineWidth = INK;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(from[0], from[1]);
  pen.lineTo(to[0], to[1]);
  pen.stroke();
  drawn = true;
}

pad.addEventListener("pointerdown", (event) => {
  pad.setPointerCapture(event.pointerId);
  last = point(event);
  stroke(last, last); // a dot
  event.preventDefault();
});
pad.addEventListener("pointermove", (event) => {
  if (last === null) return;
  const here = point(event);
  stroke(last, here);
  last = here;
  if (Date.now() - lastAsked >= EVERY_MS) askAboutDrawing();
});
for (const name of ["pointerup", "pointercancel"]) {
  pad.addEventListener(name, () => {
    if (last === null) return;
    last = null;
    askAboutDrawing();
  });
}
$("clear").addEventListener("click", clearPad);

function askAboutDrawing() {
  if (!drawn) return;
  if (asking) {
    again = true;
    return;
  }
  asking = true;
  again = false;
  document.body.classList.add("asking"); // until the answer to the latest drawing is shown
  lastAsked = Date.now();
  const asked = version;
  pad.toBlob(async (blob) => {
    try {
      const answer = await predict(blob, "drawing.png", true);
      if (asked === version) showAnswer(answer);
    } catch (e) {
      if (asked === version) showProblem(e.message);
    } finally {
      asking = false;
      if (again && drawn) askAboutDrawing();
      else document.body.classList.remove("asking");
    }
  }, "image/png");
}

// --- the answer and its bars --------------------------------------------------------------------

function buildBars() {
  const bars = $("bars");
  for (let d = 0; d < 10; d++) {
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "listitem");
    bar.dataset.digit = d;
    bar.innerHTML = `<span>${d}</span><div class="track"><div class="fill"></div></div><span class="pct"></span>`;
    bars.append(bar);
  }
}

function showAnswer(answer) {
  const digits = answer ? answer.digits : [];
  const first = digits[0];
  $("answer-digit").textContent = answer ? answer.number : "\u00a0";
  $("answer-digit").classList.toggle("many", digits.length > 2);
  $("answer-prob").textContent = digits.length === 1 ? pct(first.probability) : "";
  $("unsure").hidden = !(answer && answer.unsure);
  const note = $("answer-note");
  note.classList.remove("error");
  const each = digits.length <= 5 ? ": " + digits.map((d) => `${d.digit} ${pct(d.probability)}`).join(", ") : "";
  note.textContent = digits.length > 1 ? `${digits.length} digits${each}; the bars are the first's` : "";
  for (const bar of $("bars").children) {
    const p = first ? first.probabilities[Number(bar.dataset.digit)] : 0;
    bar.dataset.p = p;
    bar.querySelector(".fill").style.width = pct(p);
    bar.querySelector(".pct").textContent = first ? pct(p) : "";
    bar.classList.toggle("top", !!first && Number(bar.dataset.digit) === first.digit);
  }
}

function showProblem(message) {
  showAnswer(null);
  $("answer-note").textContent = message;
  $("answer-note").classList.add("error");
}

// --- a photo --------------------------------------------------------------------------------------

async function readPhoto(file) {
  const out = $("photo-answer");
  const frame = $("photo");
  const img = $("photo-img");
  out.classList.remove("error");
  out.textContent = `reading ${file.name}\u2026`;
  for (const box of frame.querySelectorAll(".box")) box.remove();
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  frame.hidden = false;
  try {
    const [answer] = await Promise.all([predict(file, file.name, false), img.decode()]);
    showBoxes(answer, img, frame);
    const flag = answer.unsure ? " (unsure: orange boxes are answers the model is not sure of)" : "";
    out.textContent = `${file.name}: ${answer.number}${flag}`;
    out.dataset.number = answer.number;
  } catch (e) {
    out.textContent = `${file.name}: ${e.message}`;
    out.classList.add("error");
    out.dataset.number = "";
  }
}

function showBoxes(answer, img, frame) {
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  for (const d of answer.digits) {
    const [x0, y0, x1, y1] = d.box;
    const box = document.createElement("div");
    box.className = "box" + (d.unsure ? " unsure" : "");
    box.dataset.digit = d.digit;
    box.style.left = (100 * x0) / w + "%";
    box.style.top = (100 * y0) / h + "%";
    box.style.width = (100 * (x1 - x0)) / w + "%";
    box.style.height = (100 * (y1 - y0)) / h + "%";
    box.title = `${d.digit}: ${pct(d.probability)}${d.unsure ? ", unsure" : ""}`;
    const label = document.createElement("span");
    label.textContent = d.digit;
    box.append(label);
    frame.append(box);
  }
}

const drop = $("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  const file = event.dataTransfer.files[0];
  if (file) readPhoto(file);
});
$("file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) readPhoto(file);
  event.target.value = ""; // choosing the same file again reads it again
});

buildBars();
clearPad();
showRun();
