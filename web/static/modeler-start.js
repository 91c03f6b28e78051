// Starts the modeler bundle on its page (a file, not an inline script: the Content-Security-Policy allows only
// 'self'). The script tag says what to start: data-start="editor" (flags modelerReady) or "viewer" (viewerReady).
(function () {
  "use strict";
  var start = document.currentScript.getAttribute("data-start");
  var config = JSON.parse(document.getElementById("jz-config").textContent);
  var flag = start === "viewer" ? "viewerReady" : "modelerReady";
  window.JiuzhuModeler[start](config).then(function () { document.body.dataset[flag] = "1"; });
})();
