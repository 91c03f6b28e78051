// Designed forms on the task page: a field whose definition says `conditional.hide` (the page carries it as
// data-hide) is hidden while its condition holds, as the form designer previewed it. The server decides again on
// submit (workflows/forms/designed.py: a hidden field's input is ignored), so this only keeps the page honest.
// The condition language is the same small FEEL subset (workflows/forms/designed_conditions.py): comparisons of
// fields with literals, and, or, not(), parentheses; hidden only when the condition is exactly true.
(function () {
  "use strict";
  var TOKEN = /\s*(?:(-?\d+(?:\.\d+)?)|("(?:[^"\\]|\\.)*")|(<=|>=|!=|=|<|>)|([()])|([A-Za-z_][A-Za-z0-9_]*))/y;
  var KEYWORDS = { and: 1, or: 1, not: 1, "true": 1, "false": 1, "null": 1 };

  function tokens(text) {
    var out = [], pos = 0, m;
    while (pos < text.length && text.slice(pos).trim()) {
      TOKEN.lastIndex = pos;
      m = TOKEN.exec(text);
      if (!m || TOKEN.lastIndex === pos) throw new Error("bad condition");
      if (m[1] !== undefined) out.push(["number", Number(m[1])]);
      else if (m[2] !== undefined) out.push(["string", m[2].slice(1, -1).replace(/\\(.)/g, "$1")]);
      else if (m[3] !== undefined) out.push(["op", m[3]]);
      else if (m[4] !== undefined) out.push([m[4], m[4]]);
      else out.push([KEYWORDS[m[5]] ? m[5] : "name", m[5]]);
      pos = TOKEN.lastIndex;
    }
    return out;
  }

  function kind(v) {
    if (typeof v === "boolean") return "boolean";
    if (typeof v === "number") return "number";
    if (typeof v === "string") return "string";
    return "other";
  }

  function compare(op, a, b) {
    if (op === "=" || op === "!=") {
      var equal;
      if (a === null || b === null) equal = a === null && b === null;
      else if (kind(a) !== kind(b)) return null;
      else equal = a === b;
      return op === "=" ? equal : !equal;
    }
    if (a === null || b === null || kind(a) !== kind(b) || (kind(a) !== "number" && kind(a) !== "string")) return null;
    return { "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b }[op];
  }

  function parse(source) {
    var list = tokens(source.trim().replace(/^=/, "")), pos = 0;
    function peek() { return pos < list.length ? list[pos][0] : null; }
    function take(k) {
      if (pos >= list.length || (k && list[pos][0] !== k)) throw new Error("bad condition");
      return list[pos++];
    }
    function operand() {
      var t = take();
      if (t[0] === "(") { var inner = expression(); take(")"); return inner; }
      if (t[0] === "not") {
        take("("); var e = expression(); take(")");
        return function (v) { var r = e(v); return typeof r === "boolean" ? !r : null; };
      }
      if (t[0] === "number" || t[0] === "string") return function () { return t[1]; };
      if (t[0] === "true" || t[0] === "false" || t[0] === "null") {
        var c = { "true": true, "false": false, "null": null }[t[0]];
        return function () { return c; };
      }
      if (t[0] === "name") return function (v) { return v[t[1]] === undefined ? null : v[t[1]]; };
      throw new Error("bad condition");
    }
    function comparison() {
      var left = operand();
      if (peek() !== "op") return left;
      var op = take()[1], right = operand();
      return function (v) { return compare(op, left(v), right(v)); };
    }
    function joined(word, part, combine) {
      return function () {
        var parts = [part()];
        while (peek() === word) { take(); parts.push(part()); }
        return parts.length === 1 ? parts[0] : function (v) { return combine(parts.map(function (p) { return p(v); })); };
      };
    }
    var conjunction = joined("and", comparison, function (r) {
      if (r.indexOf(false) >= 0) return false;
      return r.every(function (x) { return x === true; }) ? true : null;
    });
    var expression = joined("or", conjunction, function (r) {
      if (r.indexOf(true) >= 0) return true;
      return r.every(function (x) { return x === false; }) ? false : null;
    });
    var result = expression();
    if (pos !== list.length) throw new Error("bad condition");
    return result;
  }

  function valueOf(field) {
    var name = field.dataset.field;
    var inputs = field.querySelectorAll('[name="' + name + '"]');
    var raw = null;
    inputs.forEach(function (input) {
      if (input.type === "radio") { if (input.checked) raw = input.value; } else if (input.value.trim()) raw = input.value.trim();
    });
    if (raw === null) return null;
    if (field.classList.contains("field-boolean")) return raw === "true" ? true : raw === "false" ? false : raw;
    if (field.classList.contains("field-number") || field.classList.contains("field-integer")) {
      var n = Number(raw.replace(/[,，]/g, ""));
      return isNaN(n) ? raw : n;
    }
    return raw;
  }

  var form = document.getElementById("task-form");
  if (!form) return;
  var fields = Array.prototype.slice.call(form.querySelectorAll(".field[data-field]"));
  var conditions = [];
  fields.forEach(function (field) {
    if (!field.dataset.hide) return;
    try { conditions.push([field, parse(field.dataset.hide)]); } catch (e) { /* the server refused it at save */ }
  });
  if (!conditions.length) return;

  function refresh() {
    var values = {};
    fields.forEach(function (field) { values[field.dataset.field] = valueOf(field); });
    // In the form's order, as form-js and the server do: a hidden field's value is gone for later conditions.
    fields.forEach(function (field) {
      var entry = conditions.find(function (c) { return c[0] === field; });
      if (!entry) return;
      var hidden = entry[1](values) === true;
      field.hidden = hidden;
      if (hidden) delete values[field.dataset.field];
    });
  }
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();
})();
