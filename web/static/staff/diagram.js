// The case's process diagram: bpmn-js (navigated viewer, served from /static/vendor) with completed, active and
// overdue elements highlighted and the holder of each open task shown on its shape.
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  if (!container || typeof window.BpmnJS === "undefined") {
    if (container) { container.querySelector(".diagram-loading").textContent = "流程图组件未加载"; }
    return;
  }
  var state = JSON.parse(container.getAttribute("data-state") || "{}");
  var viewer = new window.BpmnJS({ container: container });

  function mark(canvas, registry, ids, marker) {
    (ids || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, marker); } });
  }

  fetch(container.getAttribute("data-url"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      var completed = new Set(state.completed || []);
      var active = new Set(state.active || []);
      mark(canvas, registry, state.completed, "hl-completed");
      mark(canvas, registry, state.active, "hl-active");
      mark(canvas, registry, state.overdue, "hl-overdue");
      registry.filter(function (e) { return !!e.waypoints && e.source && e.target; }).forEach(function (flow) {
        if (completed.has(flow.source.id) && (completed.has(flow.target.id) || active.has(flow.target.id))) {
          canvas.addMarker(flow.id, "hl-flow");
        }
      });
      (state.holders || []).forEach(function (holder) {
        if (!registry.get(holder.id)) { return; }
        var tag = document.createElement("div");
        tag.className = "diagram-holder" + (holder.overdue ? " overdue" : "");
        tag.textContent = holder.label + (holder.overdue ? "（超期）" : "");
        overlays.add(holder.id, "holder", { position: { top: -24, left: 0 }, html: tag });
      });
      // A whole approval flow is wide: fit it, but never smaller than readable — then centre the current step.
      canvas.zoom("fit-viewport", "auto");
      var focus = (state.holders || []).map(function (h) { return registry.get(h.id); }).filter(Boolean)[0]
        || (state.active || []).map(function (id) { return registry.get(id); }).filter(Boolean)[0];
      if (canvas.zoom() < 0.7) {
        var box = canvas.viewbox();
        var scale = 0.7;
        var width = box.outer.width / scale;
        var height = box.outer.height / scale;
        var cx = focus ? focus.x + (focus.width || 0) / 2 : box.x + box.width / 2;
        var cy = focus ? focus.y + (focus.height || 0) / 2 : box.y + box.height / 2;
        canvas.viewbox({ x: cx - width / 2, y: cy - height / 2, width: width, height: height });
      }
      var loading = container.querySelector(".diagram-loading");
      if (loading) { loading.parentNode.removeChild(loading); }
      container.setAttribute("data-rendered", "true");
    })
    .catch(function (error) {
      var loading = container.querySelector(".diagram-loading");
      if (loading) { loading.textContent = "流程图加载失败：" + error.message; }
      container.setAttribute("data-rendered", "error");
    });
})();
