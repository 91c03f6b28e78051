// Starts Swagger UI on /api/docs (a file, not an inline script: the Content-Security-Policy allows only 'self').
(function () {
  "use strict";
  var box = document.getElementById("swagger-ui");
  if (window.SwaggerUIBundle) {
    window.ui = window.SwaggerUIBundle({ url: box.getAttribute("data-spec-url"), dom_id: "#swagger-ui" });
  } else {
    box.textContent = "交互式文档的前端资源尚未安装（运行 make setup），可直接阅读 openapi.json。";
  }
})();
