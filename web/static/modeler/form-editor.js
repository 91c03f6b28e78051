// 表单设计: the form-js editor for designed task forms (/modeler/forms/<key>), built by scripts/build-assets.mjs
// (esbuild) into web/static/build/form-editor.js + form-editor.css. Saving posts the schema to POST /api/v1/forms
// with the page's session and CSRF token; the server reads it again and answers every problem by component.
// The package's own browser build (its rollup bundle resolves the one preact its editor, viewer and properties
// panel must share; bundling the ES modules here would mix the two preact copies npm installs).
import { FormEditor } from "@bpmn-io/form-js/editor";

import "@bpmn-io/form-js/dist/assets/form-js.css";
import "@bpmn-io/form-js/dist/assets/form-js-editor.css";
import "@bpmn-io/form-js/dist/assets/properties-panel.css";
import "./form-editor.css";

// The palette offers only what the server validates and the task page renders (workflows/forms/designed.py);
// everything else (containers, dynamic lists, tables, buttons …) is taken out, so a designer cannot draw a form
// that the save would refuse.
const FIELD_NAMES = {
  textfield: "文本框",
  textarea: "多行文本",
  number: "数字",
  datetime: "日期",
  select: "下拉选择",
  radio: "单选",
  checkbox: "勾选框",
};

// form-js has no translation service for its palette groups and properties panel: their fixed English words are
// replaced where they appear (text nodes and placeholders), from this list.
const WORDS = {
  Components: "组件",
  Input: "输入",
  Selection: "选择",
  Presentation: "展示",
  Containers: "容器",
  Action: "操作",
  "Search components": "搜索组件",
  "No components found.": "没有匹配的组件",
  "Build your form": "设计表单",
  "Drag and drop components here to start designing.": "从左侧组件栏拖入组件开始设计",
  "Drag and drop components here.": "把组件拖到这里",
  General: "常规",
  "Field label": "字段名称",
  "Date label": "日期名称",
  "Field description": "说明",
  Key: "字段标识（key）",
  "Default value": "默认值",
  Validation: "校验",
  Required: "必填",
  Minimum: "最小值",
  Maximum: "最大值",
  "Minimum length": "最小长度",
  "Maximum length": "最大长度",
  "Validation pattern": "校验类型",
  "Custom regular expression": "正则表达式",
  "Custom error message": "校验失败时的提示",
  Custom: "自定义",
  Email: "电子邮箱",
  Phone: "电话号码",
  Condition: "条件",
  "Hide if": "隐藏条件（FEEL，如 =kind = \"a\"）",
  Constraints: "约束",
  "Decimal digits": "小数位数",
  Increment: "步长",
  Options: "选项",
  "Options source": "选项来源",
  "Static options": "固定选项",
  "Static": "固定选项",
  Label: "显示文字",
  Value: "值",
  Layout: "布局",
  Columns: "列宽",
  Appearance: "外观",
  Prefix: "前缀",
  Suffix: "后缀",
  Serialization: "序列化",
  "Output as string": "输出为文本",
  "Disallow past dates": "不允许早于今天",
  Subtype: "类型",
  "Read only": "只读（不支持）",
  Disabled: "禁用（不支持）",
  "Custom properties": "自定义属性",
  "Select a form field to edit its properties.": "选择一个组件以编辑其属性",
  "Form": "表单",
};

function translateNode(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
  for (let node = root; node; node = walker.nextNode()) {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.data.trim();
      if (text && Object.prototype.hasOwnProperty.call(WORDS, text)) {
        node.data = node.data.replace(text, WORDS[text]);
      }
    } else if (node.getAttribute) {
      for (const attribute of ["placeholder", "title"]) {
        const value = node.getAttribute(attribute);
        if (value && Object.prototype.hasOwnProperty.call(WORDS, value)) {
          node.setAttribute(attribute, WORDS[value]);
        }
      }
    }
  }
}

function watchTranslations(container) {
  translateNode(container);
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "characterData") {
        translateNode(record.target);
      } else {
        record.addedNodes.forEach((node) => translateNode(node));
      }
    }
  }).observe(container, { childList: true, subtree: true, characterData: true });
}

// An editor module: runs when the editor is created, before the palette is first drawn.
function ChineseFields(formFields) {
  const registry = formFields._formFields;
  for (const type of Object.keys(registry)) {
    if (type === "default") {
      continue;
    }
    if (!(type in FIELD_NAMES)) {
      delete registry[type];
      continue;
    }
    const field = registry[type];
    const config = field.config;
    const name = FIELD_NAMES[type];
    field.config = {
      ...config,
      name,
      label: name,
      create: (options = {}, isNewField) => {
        const created = config.create(options, isNewField);
        if (type === "datetime") {
          return { ...created, dateLabel: isNewField ? "日期" : created.dateLabel };
        }
        if (type === "select" || type === "radio") {
          const values = created.values && created.values.length === 1 && created.values[0].value === "value"
            ? [{ label: "选项一", value: "option1" }, { label: "选项二", value: "option2" }] : created.values;
          return { ...created, label: options.label || name, values };
        }
        return { ...created, label: options.label || name };
      },
    };
  }
}
ChineseFields.$inject = ["formFields"];

const chineseModule = { __init__: ["jzChineseFields"], jzChineseFields: ["type", ChineseFields] };

function emptySchema(key) {
  return { type: "default", id: `Form_${key.replace(/[^A-Za-z0-9_]/g, "_")}`, components: [] };
}

function showStatus(kind, text, problems = []) {
  const status = document.getElementById("fe-status");
  status.className = `jz-status jz-status-${kind}`;
  status.textContent = text;
  const list = document.getElementById("fe-problems");
  list.innerHTML = "";
  for (const problem of problems) {
    const item = document.createElement("li");
    item.textContent = problem;
    list.appendChild(item);
  }
  list.hidden = problems.length === 0;
}

async function save(editor, cfg) {
  const name = document.getElementById("fe-name").value.trim();
  const body = { key: cfg.key, name: name || null, schema: editor.saveSchema() };
  let response;
  try {
    response = await fetch(`${cfg.api}forms`, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": cfg.csrf },
      body: JSON.stringify(body),
    });
  } catch (error) {
    showStatus("error", "无法连接服务器，请稍后重试");
    return;
  }
  const data = await response.json().catch(() => ({}));
  if (response.status === 201 || response.status === 200) {
    cfg.version = data.version;
    document.getElementById("fe-version").textContent = `第 ${data.version} 版`;
    showStatus("success", response.status === 201 ? `已保存为第 ${data.version} 版` : `内容未变化，仍为第 ${data.version} 版`);
    document.body.dataset.formSaved = String(data.version);
    return;
  }
  const error = data.error || {};
  const problems = [];
  for (const [field, messages] of Object.entries(error.fields || {})) {
    for (const message of [].concat(messages)) {
      problems.push(field === "schema" ? message : `${field}：${message}`);
    }
  }
  showStatus("error", error.message || `保存失败（${response.status}）`, problems);
}

async function start() {
  const cfg = JSON.parse(document.getElementById("fe-config").textContent);
  const container = document.getElementById("fe-editor");
  watchTranslations(container);
  const editor = new FormEditor({ container, additionalModules: [chineseModule] });
  try {
    await editor.importSchema(cfg.schema || emptySchema(cfg.key));
  } catch (error) {
    showStatus("error", `表单定义无法打开：${error.message}`);
    return;
  }
  document.getElementById("fe-save").addEventListener("click", () => save(editor, cfg));
  showStatus("info", cfg.version ? `已打开第 ${cfg.version} 版；修改后保存会生成新版本` : "新表单：从左侧拖入组件，保存后即可在流程设计器中选用");
  window.jiuzhuFormEditor = editor;
  document.body.dataset.formEditorReady = "1";
}

start();
