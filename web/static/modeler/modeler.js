// The 流程设计 pages: the bpmn-js modeler with Jiuzhu's properties panel and lint rules, and the instance viewer.
// Built by scripts/build-assets.mjs (esbuild) into web/static/build/modeler.js + modeler.css.
import BpmnModeler from "bpmn-js/lib/Modeler";
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import lintModule from "bpmn-js-bpmnlint";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";

import lintConfig, { normalizeFlows } from "./lint.js";
import JiuzhuPropertiesProvider from "./properties.js";
import spiffworkflow from "./spiffworkflow.json";
import { TranslateModule } from "./translate.js";

import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";
import "@bpmn-io/properties-panel/dist/assets/properties-panel.css";
import "bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css";
import "./modeler.css";

const $ = (selector) => document.querySelector(selector);

function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "'": "&#39;" })[c]);
}

export function newDiagram(key, name) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="definitions_${escapeHtml(key)}" targetNamespace="http://jiuzhu.example/bpmn/${escapeHtml(key)}" exporter="jiuzhu" exporterVersion="1">
  <bpmn:process id="${escapeHtml(key)}" name="${escapeHtml(name)}" isExecutable="true">
    <bpmn:startEvent id="start" name="开始" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_${escapeHtml(key)}">
    <bpmndi:BPMNPlane id="plane_${escapeHtml(key)}" bpmnElement="${escapeHtml(key)}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;
}

function makeApi(cfg) {
  return async function api(method, path, body) {
    const headers = { Accept: "application/json", "X-CSRFToken": cfg.csrf };
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${cfg.api}${path}`, { method, headers, body: payload, credentials: "same-origin" });
    } catch (error) {
      return { status: 0, data: { error: { message: "无法连接服务器" } } };
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : await response.text();
    return { status: response.status, data };
  };
}

// -- the editor ----------------------------------------------------------------------------------------------------

export async function editor(cfg) {
  const api = makeApi(cfg);
  const state = { key: cfg.key || null, version: cfg.version || null, draftRevision: null, dirty: false,
    problems: [], warnings: [], validating: 0 };

  const modeler = new BpmnModeler({
    container: "#jz-canvas",
    keyboard: { bindTo: document },
    propertiesPanel: { parent: "#jz-properties" },
    linting: { bpmnlint: lintConfig, active: true },
    moddleExtensions: { spiffworkflow },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      lintModule,
      TranslateModule,
      {
        __init__: ["jiuzhuPropertiesProvider"],
        jiuzhuPropertiesProvider: ["type", JiuzhuPropertiesProvider],
        jiuzhuCatalog: ["value", { roles: cfg.roles || [], forms: cfg.forms || [], agencies: cfg.agencies || [] }],
      },
    ],
  });
  window.jiuzhuModeler = modeler; // for the browser tests and the curious
  modeler.on("import.parse.complete", (event) => {
    if (event.definitions) normalizeFlows(event.definitions);
  });

  const canvas = modeler.get("canvas");
  const overlays = modeler.get("overlays");
  const registry = modeler.get("elementRegistry");
  const selection = modeler.get("selection");

  function status(text, kind = "info") {
    const box = $("#jz-status");
    box.className = `jz-status jz-status-${kind}`;
    box.innerHTML = text;
  }

  function describeSource() {
    const parts = [];
    if (state.key) parts.push(`流程 <b>${escapeHtml(state.key)}</b>`);
    if (state.draftRevision) parts.push(`草稿第 ${state.draftRevision} 版`);
    else if (state.version) parts.push(`版本 ${state.version}`);
    else parts.push("新流程");
    if (state.dirty) parts.push("<span class='jz-dirty'>有未保存的修改</span>");
    $("#jz-source").innerHTML = parts.join(" · ");
  }

  function elementLabel(id) {
    const element = id && registry.get(id);
    if (!element) return id || "整个流程图";
    const name = element.businessObject && element.businessObject.name;
    return name ? `${name}（${id}）` : id;
  }

  function showProblems(problems, warnings) {
    state.problems = problems || [];
    state.warnings = warnings || [];
    overlays.remove({ type: "jz-problem" });
    registry.forEach((element) => {
      canvas.removeMarker(element, "jz-has-error");
      canvas.removeMarker(element, "jz-has-warning");
    });
    const list = $("#jz-problems-list");
    list.innerHTML = "";
    const add = (item, kind) => {
      const li = document.createElement("li");
      li.className = `jz-${kind}`;
      li.dataset.element = item.element_id || "";
      li.innerHTML = `<b>${escapeHtml(elementLabel(item.element_id))}</b>：${escapeHtml(item.message)}`;
      li.addEventListener("click", () => focus(item.element_id));
      list.appendChild(li);
      const element = item.element_id && registry.get(item.element_id);
      if (element && element.type !== "label" && element !== canvas.getRootElement()) {
        canvas.addMarker(element, kind === "error" ? "jz-has-error" : "jz-has-warning");
        if (kind === "error") {
          overlays.add(element, "jz-problem", {
            position: { top: -12, right: 12 },
            scale: { min: 1 },
            html: `<div class="jz-problem-badge" title="${escapeHtml(item.message)}">!</div>`,
          });
        }
      }
    };
    state.problems.forEach((p) => add(p, "error"));
    state.warnings.forEach((p) => add(p, "warning"));
    $("#jz-problems-title").textContent = state.problems.length
      ? `问题：${state.problems.length} 个错误，${state.warnings.length} 个提示`
      : `校验通过${state.warnings.length ? `（${state.warnings.length} 个提示）` : ""}`;
    $("#jz-problems").className = state.problems.length ? "jz-problems jz-has-problems" : "jz-problems";
    showSelectedProblems();
  }

  function focus(id) {
    const element = id && registry.get(id);
    if (!element) return;
    selection.select(element);
    try {
      canvas.scrollToElement(element);
    } catch (error) { /* elements on another plane */ }
  }

  function showSelectedProblems() {
    const box = $("#jz-element-problems");
    const selected = selection.get()[0];
    const id = selected && selected.id;
    const mine = state.problems.filter((p) => p.element_id === id);
    box.innerHTML = mine.map((p) => `<div class="jz-element-problem">${escapeHtml(p.message)}</div>`).join("");
    box.style.display = mine.length ? "block" : "none";
  }
  modeler.on("selection.changed", showSelectedProblems);

  async function currentXml() {
    const { xml } = await modeler.saveXML({ format: true });
    return xml;
  }

  async function validate() {
    const ticket = ++state.validating;
    const xml = await currentXml();
    const { status: code, data } = await api("POST", "process-definitions/validate", { xml });
    if (ticket !== state.validating) return null; // a newer check is under way
    if (code === 200) {
      showProblems(data.problems, data.warnings);
      return data;
    }
    const error = (data && data.error) || {};
    showProblems(error.problems || [{ element_id: null, message: error.message || `校验失败（${code}）` }], []);
    return null;
  }

  let timer = null;
  modeler.on("commandStack.changed", () => {
    state.dirty = true;
    describeSource();
    clearTimeout(timer);
    timer = setTimeout(validate, 700);
  });

  async function load(xml, source) {
    try {
      const { warnings } = await modeler.importXML(xml);
      canvas.zoom("fit-viewport", "auto");
      if (canvas.zoom() > 1) canvas.zoom(1, "auto"); // a small diagram is not blown up
      Object.assign(state, source, { dirty: false });
      describeSource();
      status(warnings.length ? `已打开（读取时有 ${warnings.length} 处不认识的内容，已忽略）` : "已打开", "info");
      await validate();
      return true;
    } catch (error) {
      status(`无法打开该文件：${escapeHtml(error.message)}`, "error");
      return false;
    }
  }

  async function saveDraft() {
    const xml = await currentXml();
    const { status: code, data } = await api("POST", "process-definitions/drafts", {
      xml, revision: state.draftRevision, based_on_version: state.version });
    if (code === 200) {
      state.key = data.key;
      state.draftRevision = data.revision;
      state.dirty = false;
      describeSource();
      showProblems(data.problems, data.warnings);
      status(`草稿已保存（第 ${data.revision} 版${data.problems.length ? `，仍有 ${data.problems.length} 个问题` : ""}）`,
        data.problems.length ? "warning" : "success");
    } else {
      const error = (data && data.error) || {};
      if (error.problems) showProblems(error.problems, []);
      status(`草稿未保存：${escapeHtml(error.message || code)}`, "error");
    }
  }

  async function deploy() {
    const xml = await currentXml();
    const query = state.draftRevision ? `?draft_revision=${state.draftRevision}` : "";
    status("正在校验并部署…", "info");
    const { status: code, data } = await api("POST", `process-definitions${query}`, { xml });
    if (code === 201 || code === 200) {
      state.key = data.key;
      state.version = data.version;
      state.draftRevision = null;
      state.dirty = false;
      describeSource();
      showProblems([], data.warnings);
      const link = `${cfg.versionsUrl.replace("__KEY__", encodeURIComponent(data.key))}`;
      status(code === 201
        ? `已部署为 <b>${escapeHtml(data.key)}</b> 版本 <b>${data.version}</b>。<a href="${link}">查看版本列表</a>`
        : `内容与版本 ${data.version} 相同，未产生新版本。<a href="${link}">查看版本列表</a>`, "success");
    } else {
      const error = (data && data.error) || {};
      showProblems(error.problems || [], []);
      status(`未部署：${escapeHtml(error.message && error.problems ? `${error.problems.length} 个问题，请逐一修正` :
        error.message || code)}`, "error");
    }
  }

  async function exportFile() {
    const xml = await currentXml();
    const blob = new Blob([xml], { type: "application/xml" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${state.key || "diagram"}.bpmn`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  function importFile(file) {
    if (!file) return;
    if (file.size > 5 * 1024 * 1024) {
      status("文件过大（上限 5 MB）", "error");
      return;
    }
    const reader = new FileReader();
    reader.onload = () => load(String(reader.result), { key: null, version: null, draftRevision: null })
      .then((ok) => {
        if (ok) {
          const process = (modeler.getDefinitions().rootElements || []).find((e) => e.$type === "bpmn:Process");
          state.key = process ? process.id : null;
          state.dirty = true;
          describeSource();
        }
      });
    reader.readAsText(file, "utf-8");
  }

  $("#jz-validate").addEventListener("click", validate);
  $("#jz-save").addEventListener("click", saveDraft);
  $("#jz-deploy").addEventListener("click", deploy);
  $("#jz-export").addEventListener("click", exportFile);
  $("#jz-import").addEventListener("change", (event) => importFile(event.target.files[0]));
  window.addEventListener("beforeunload", (event) => {
    if (state.dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // What to open: a draft, a deployed version, or a new diagram.
  if (cfg.open === "draft") {
    const { status: code, data } = await api("GET", `process-definitions/drafts/${encodeURIComponent(cfg.key)}`);
    if (code === 200) {
      await load(data.xml, { key: data.key, version: data.based_on_version, draftRevision: data.revision });
    } else {
      status("草稿不存在", "error");
    }
  } else if (cfg.open === "version") {
    const query = cfg.version ? `?version=${cfg.version}` : "";
    const { status: code, data } = await api("GET",
      `process-definitions/${encodeURIComponent(cfg.key)}/xml${query}`);
    if (code === 200) {
      await load(data, { key: cfg.key, version: cfg.version || cfg.latestVersion, draftRevision: null });
    } else {
      status("该版本不存在", "error");
    }
  } else {
    await load(newDiagram(cfg.key || "new_process", cfg.name || "新流程"), { key: cfg.key, version: null,
      draftRevision: null });
    state.dirty = true;
    describeSource();
  }
  return modeler;
}

// -- the instance viewer ------------------------------------------------------------------------------------------

export async function viewer(cfg) {
  const view = new NavigatedViewer({ container: "#jz-canvas", moddleExtensions: { spiffworkflow } });
  window.jiuzhuViewer = view;
  try {
    await view.importXML(cfg.xml);
  } catch (error) {
    $("#jz-status").textContent = `无法显示流程图：${error.message}`;
    return view;
  }
  const canvas = view.get("canvas");
  const registry = view.get("elementRegistry");
  const overlays = view.get("overlays");
  canvas.zoom("fit-viewport", "auto");
  if (canvas.zoom() > 1) canvas.zoom(1, "auto");
  const mark = (ids, marker, badge) => {
    for (const id of ids || []) {
      const element = registry.get(id);
      if (!element) continue;
      canvas.addMarker(element, marker);
      if (badge) {
        overlays.add(element, "jz-state", { position: { top: -14, left: -6 },
          html: `<div class="jz-state-badge ${marker}-badge">${escapeHtml(badge)}</div>` });
      }
    }
  };
  mark(cfg.completed, "jz-completed");
  mark(cfg.active, "jz-active", "办理中");
  mark(cfg.waiting, "jz-waiting", "等待");
  return view;
}

window.JiuzhuModeler = { editor, viewer, newDiagram };
