// The upload page: drag and drop, or the device camera with the baseline as a ghost overlay.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("file");
  const drop = document.getElementById("dropzone");
  const chosen = document.getElementById("chosen");
  const preview = document.getElementById("preview");
  const state = document.getElementById("upload-state");

  const framing = document.getElementById("framing");
  const csrf = form.querySelector('input[name="csrf_token"]').value;

  // Ask the server at once whether this photo can be compared with the baseline.
  function check(file) {
    framing.hidden = false;
    framing.className = "framing checking";
    framing.textContent = "Checking the framing…";
    const view = form.querySelector('select[name="view"]').value;
    fetch(form.dataset.checkUrl + "?view=" + encodeURIComponent(view), {
      method: "POST", credentials: "same-origin", body: file,
      headers: { "X-CSRF-Token": csrf, "Content-Type": file.type || "application/octet-stream" },
    })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        framing.textContent = "";
        if (body.warnings && body.warnings.length) {
          framing.className = "framing warn-box";
          framing.setAttribute("role", "alert");
          const head = document.createElement("strong");
          head.textContent = "This photo may not be comparable with the baseline. Retake it:";
          const list = document.createElement("ul");
          body.warnings.forEach(function (w) {
            const item = document.createElement("li");
            item.textContent = w;
            list.appendChild(item);
          });
          framing.appendChild(head);
          framing.appendChild(list);
        } else if (body.checked) {
          framing.className = "framing ok-box";
          framing.textContent = body.baseline
            ? "Framing checked: a face, comparable with the baseline."
            : "Framing checked: a face was found. This first photo becomes the baseline.";
        } else {
          framing.className = "framing";
          framing.textContent = body.note || (body.error ? body.error : "The framing could not be checked.");
        }
      })
      .catch(function () { framing.textContent = "The framing could not be checked."; });
  }

  function show(file) {
    chosen.textContent = file.name + " (" + Math.round(file.size / 1024) + " KB)";
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    check(file);
  }
  function setFile(file) {
    const list = new DataTransfer();
    list.items.add(file);
    input.files = list.files;
    show(file);
  }
  input.addEventListener("change", function () { if (input.files.length) show(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function () { drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]);
  });

  const start = document.getElementById("camera-start");
  const box = document.getElementById("camera-box");
  const video = document.getElementById("camera-video");
  const ghost = document.getElementById("ghost");
  const opacity = document.getElementById("ghost-opacity");
  const opacityValue = document.getElementById("ghost-value");
  const capture = document.getElementById("camera-capture");
  let stream = null;

  function setOpacity() {
    if (!ghost || !opacity) return;
    ghost.style.opacity = String(opacity.value / 100);
    opacityValue.textContent = opacity.value + " %";
  }
  if (opacity) opacity.addEventListener("input", setOpacity);
  setOpacity();

  start.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      state.textContent = "This browser cannot use the camera here; choose a file instead.";
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1920 }, height: { ideal: 1080 } }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        box.hidden = false;
        start.hidden = true;
      })
      .catch(function (err) { state.textContent = "The camera could not be started: " + err.message; });
  });
  capture.addEventListener("click", function () {
    if (!stream || !video.videoWidth) return;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob(function (blob) {
      setFile(new File([blob], "camera.jpg", { type: "image/jpeg" }));
      state.textContent = "Photo taken. Upload it, or take another.";
    }, "image/jpeg", 0.95);
  });
  form.addEventListener("submit", function () {
    document.getElementById("upload-submit").disabled = true;
    state.textContent = "Uploading…";
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
  });
})();
