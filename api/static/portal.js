// The handwritten signature on the party's page: drawn on a canvas, sent as a PNG in a hidden field.
(function () {
  "use strict";
  var pad = document.getElementById("signature-pad");
  if (!pad) return;
  var ctx = pad.getContext("2d");
  var drawn = false;
  var last = null;
  ctx.lineWidth = 4;
  ctx.lineCap = "round";
  ctx.strokeStyle = "#000";
  function point(e) {
    var box = pad.getBoundingClientRect();
    return { x: (e.clientX - box.left) * (pad.width / box.width), y: (e.clientY - box.top) * (pad.height / box.height) };
  }
  pad.addEventListener("pointerdown", function (e) {
    last = point(e);
    try { pad.setPointerCapture(e.pointerId); } catch (err) { /* a pointer the page may not capture */ }
    e.preventDefault();
  });
  pad.addEventListener("pointermove", function (e) {
    if (!last) return;
    var p = point(e);
    ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
    last = p; drawn = true; e.preventDefault();
  });
  function stop() { last = null; }
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  document.getElementById("signature-clear").addEventListener("click", function () {
    ctx.clearRect(0, 0, pad.width, pad.height); drawn = false;
  });
  document.getElementById("esign-form").addEventListener("submit", function (e) {
    if (!drawn) { e.preventDefault(); alert("请先在签名框内手写签名"); return; }
    document.getElementById("signature-data").value = pad.toDataURL("image/png");
  });
})();
