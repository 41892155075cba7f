// CodeMirror 6 for workflow sources: an editable TypeScript editor that can show compile errors at
// their line (lint diagnostic + line decoration), and a read-only highlighted viewer. Colours come
// from the page's CSS variables, so the editor follows light and dark with the rest of the dashboard.
import { useEffect, useRef } from "preact/hooks";
import { Annotation, ChangeSet, EditorSelection, EditorState, StateEffect, StateField, Text, Transaction, type Extension } from "@codemirror/state";
import {
  Decoration, type DecorationSet, EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers,
} from "@codemirror/view";
import { javascript } from "@codemirror/lang-javascript";
import { lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";
// @codemirror/language and @lezer/highlight come with @codemirror/lang-javascript. The installed
// `codemirror` package is the CodeMirror 5 line (6.65.x), so there is no basicSetup and no
// @codemirror/commands: the few commands an editor needs (history, indent, select all) are here.
import { HighlightStyle, IndentContext, bracketMatching, getIndentation, indentOnInput, indentString, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";

export interface EditorMarker {
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
  message: string;
}

/** the container element, with the view on it so end-to-end tests can drive the editor */
export type EditorHost = HTMLDivElement & { cmView?: EditorView };

// ---- theme: token colours are CSS variables (workflows.css sets them for light and dark) ------------
const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword, t.operatorKeyword, t.modifier, t.self], color: "var(--tok-keyword, #7c3aed)" },
  { tag: [t.string, t.special(t.string), t.regexp, t.escape], color: "var(--tok-string, #b42318)" },
  { tag: [t.comment, t.lineComment, t.blockComment, t.docComment], color: "var(--tok-comment, #6b7280)", fontStyle: "italic" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "var(--tok-number, #0f766e)" },
  { tag: [t.typeName, t.className, t.namespace, t.standard(t.typeName)], color: "var(--tok-type, #a15c00)" },
  { tag: [t.function(t.variableName), t.function(t.propertyName)], color: "var(--tok-function, #1d4ed8)" },
  { tag: [t.definition(t.variableName), t.definition(t.propertyName)], color: "var(--tok-def, #1c2330)" },
  { tag: t.propertyName, color: "var(--tok-property, #0e6a8a)" },
  { tag: t.invalid, color: "var(--err)" },
]);

const theme = EditorView.theme({
  "&": { backgroundColor: "var(--panel)", color: "var(--fg)" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.5" },
  ".cm-content": { caretColor: "var(--fg)" },
  "&.cm-focused .cm-cursor": { borderLeftColor: "var(--fg)" },
  ".cm-gutters": { backgroundColor: "var(--bg)", color: "var(--muted)", borderRight: "1px solid var(--line)" },
  ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--accent) 6%, transparent)" },
  ".cm-activeLineGutter": { backgroundColor: "color-mix(in srgb, var(--accent) 12%, transparent)", color: "var(--fg)" },
  ".cm-selectionBackground, &.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground": {
    backgroundColor: "color-mix(in srgb, var(--accent) 28%, transparent)",
  },
  ".cm-matchingBracket, &.cm-focused .cm-matchingBracket": { backgroundColor: "color-mix(in srgb, var(--ok) 22%, transparent)", outline: "none" },
  ".weft-error-line": { backgroundColor: "color-mix(in srgb, var(--err) 14%, transparent)" },
  ".cm-tooltip": { backgroundColor: "var(--panel)", color: "var(--fg)", border: "1px solid var(--line)" },
  ".cm-diagnostic-error": { borderLeftColor: "var(--err)" },
  ".cm-lintRange-error": { textDecorationColor: "var(--err)" },
});

// ---- history: undo/redo, typing within 600 ms grouped into one step -------------------------------
interface Step {
  /** undoes the change: maps the document after it to the one before */
  changes: ChangeSet;
  selection: EditorSelection;
  time: number;
  kind: string;
}
const fromHistory = Annotation.define<"undo" | "redo">();
const historyField = StateField.define<{ done: Step[]; undone: Step[] }>({
  create: () => ({ done: [], undone: [] }),
  update(h, tr) {
    if (!tr.docChanged) return h;
    const step: Step = { changes: tr.changes.invert(tr.startState.doc), selection: tr.startState.selection, time: Date.now(), kind: "" };
    const how = tr.annotation(fromHistory);
    if (how === "undo") return { done: h.done.slice(0, -1), undone: [...h.undone, step] };
    if (how === "redo") return { done: [...h.done, step], undone: h.undone.slice(0, -1) };
    if (tr.annotation(Transaction.addToHistory) === false) return h;
    step.kind = tr.isUserEvent("input.type") ? "type" : tr.isUserEvent("delete") ? "delete" : "";
    const last = h.done[h.done.length - 1];
    if (last && step.kind && last.kind === step.kind && step.time - last.time < 600) {
      return { done: [...h.done.slice(0, -1), { ...last, changes: step.changes.compose(last.changes), time: step.time }], undone: [] };
    }
    return { done: [...h.done, step].slice(-300), undone: [] };
  },
});

function replay(view: EditorView, how: "undo" | "redo"): boolean {
  const h = view.state.field(historyField);
  const step = how === "undo" ? h.done[h.done.length - 1] : h.undone[h.undone.length - 1];
  if (!step || view.state.readOnly) return false;
  view.dispatch({ changes: step.changes, selection: step.selection, annotations: fromHistory.of(how), scrollIntoView: true, userEvent: how });
  return true;
}

// ---- editing commands ---------------------------------------------------------------------------
const CLOSE: Record<string, string> = { "{": "}", "[": "]", "(": ")" };

/** Enter: a new line indented by the language's rules; between brackets, the closing one moves down */
function newlineAndIndent(view: EditorView): boolean {
  const { state } = view;
  if (state.readOnly) return false;
  view.dispatch(
    state.changeByRange(({ from, to }) => {
      const line = state.doc.lineAt(from);
      const explode = from === to && CLOSE[state.sliceDoc(from - 1, from)] === state.sliceDoc(to, to + 1);
      const cx = new IndentContext(state, { simulateBreak: from, simulateDoubleBreak: explode });
      const indent = getIndentation(cx, from) ?? /^\s*/.exec(line.text)![0].length;
      const lines = ["", indentString(state, indent)];
      if (explode) lines.push(indentString(state, cx.lineIndent(line.from, -1)));
      return { changes: { from, to, insert: Text.of(lines) }, range: EditorSelection.cursor(from + 1 + lines[1]!.length) };
    }),
    { scrollIntoView: true, userEvent: "input" },
  );
  return true;
}

/** Tab with a cursor inserts two spaces; with a selection (or Shift-Tab) it indents the lines */
function indent(view: EditorView, dir: 1 | -1): boolean {
  const { state } = view;
  if (state.readOnly) return false;
  const unit = state.facet(indentUnit);
  if (dir === 1 && state.selection.ranges.every((r) => r.empty)) {
    view.dispatch(state.replaceSelection(unit), { scrollIntoView: true, userEvent: "input" });
    return true;
  }
  const changes: { from: number; to?: number; insert?: string }[] = [];
  const seen = new Set<number>();
  for (const r of state.selection.ranges) {
    for (let pos = r.from; pos <= r.to; ) {
      const line = state.doc.lineAt(pos);
      if (!seen.has(line.number) && (line.from < r.to || r.empty || line.from === r.from)) {
        seen.add(line.number);
        if (dir === 1) changes.push({ from: line.from, insert: unit });
        else {
          const n = Math.min(/^ */.exec(line.text)![0].length, unit.length);
          if (n) changes.push({ from: line.from, to: line.from + n });
        }
      }
      pos = line.to + 1;
    }
  }
  if (changes.length) view.dispatch({ changes, userEvent: dir === 1 ? "input.indent" : "delete.dedent" });
  return true;
}

const commands = keymap.of([
  { key: "Enter", run: newlineAndIndent },
  { key: "Mod-a", run: (v) => (v.dispatch({ selection: { anchor: 0, head: v.state.doc.length } }), true) },
  { key: "Mod-z", run: (v) => replay(v, "undo"), preventDefault: true },
  { key: "Mod-y", run: (v) => replay(v, "redo"), preventDefault: true },
  { key: "Mod-Shift-z", run: (v) => replay(v, "redo"), preventDefault: true },
  // Esc then Tab moves focus out (CodeMirror's tab focus mode), so Tab here does not trap focus
  { key: "Tab", run: (v) => indent(v, 1), shift: (v) => indent(v, -1) },
  ...lintKeymap,
]);

// ---- compile errors: a lint diagnostic and a line decoration, both gone at the next edit ----------
const setErrorLines = StateEffect.define<number[]>();
const errorLines = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    for (const e of tr.effects) {
      if (e.is(setErrorLines)) {
        const lines = [...new Set(e.value)].filter((n) => n >= 1 && n <= tr.state.doc.lines).sort((a, b) => a - b);
        return Decoration.set(lines.map((n) => Decoration.line({ class: "weft-error-line", attributes: { "data-error-line": String(n) } }).range(tr.state.doc.line(n).from)));
      }
    }
    return tr.docChanged ? Decoration.none : deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});
// the lint diagnostics follow the decoration: an edit makes the reported positions stale
const clearOnEdit = EditorState.transactionExtender.of((tr) =>
  tr.docChanged && tr.startState.field(errorLines).size > 0 ? { effects: setDiagnostics(tr.startState, []).effects ?? [] } : null,
);

function position(doc: Text, line: number, column: number): number {
  const l = doc.line(Math.min(Math.max(1, line), doc.lines));
  return l.from + Math.min(Math.max(0, column - 1), l.length);
}

function showMarkers(view: EditorView, markers: EditorMarker[]): void {
  const doc = view.state.doc;
  const diagnostics = markers.map((m) => {
    const from = position(doc, m.line, m.column);
    return { from, to: Math.min(from + 1, doc.lineAt(from).to), severity: "error" as const, message: m.message, source: "compile" };
  });
  const spec = setDiagnostics(view.state, diagnostics);
  const effects = ([] as StateEffect<unknown>[]).concat(spec.effects ?? [], setErrorLines.of(markers.map((m) => m.line)));
  view.dispatch({ effects });
}

/** moves the cursor to line:column, scrolls it to the middle and focuses the editor */
export function goTo(view: EditorView, line: number, column: number): void {
  const pos = position(view.state.doc, line, column);
  view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: "center" }) });
  view.focus();
}

function extensions(o: { readOnly: boolean; label: string; describedBy?: string | undefined; onChange?: (text: string) => void }): Extension[] {
  const base: Extension[] = [
    lineNumbers(), highlightSpecialChars(), drawSelection(), highlightActiveLineGutter(), bracketMatching(),
    syntaxHighlighting(highlight), javascript({ typescript: true }), theme, EditorState.tabSize.of(2), indentUnit.of("  "),
    EditorView.contentAttributes.of({ "aria-label": o.label, ...(o.describedBy ? { "aria-describedby": o.describedBy } : {}) }),
  ];
  if (o.readOnly) return [...base, EditorState.readOnly.of(true), EditorView.contentAttributes.of({ "aria-readonly": "true" })];
  const onChange = o.onChange;
  return [
    ...base, historyField, commands, highlightActiveLine(), indentOnInput(), lintGutter(), errorLines, clearOnEdit,
    // the browser's own undo (menu, mobile) would edit the DOM behind CodeMirror's back
    EditorView.domEventHandlers({
      beforeinput: (e, view) => (e.inputType === "historyUndo" ? replay(view, "undo") : e.inputType === "historyRedo" ? replay(view, "redo") : false),
    }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged && onChange) onChange(u.state.doc.toString());
    }),
  ];
}

/** keeps one EditorView alive for the component's life; `docKey` changing means another document */
function useEditor(host: { current: EditorHost | null }, value: string, docKey: string, make: () => Extension[]): { current: EditorView | null } {
  const view = useRef<EditorView | null>(null);
  const made = useRef(make);
  made.current = make;
  useEffect(() => {
    const el = host.current!;
    const v = new EditorView({ parent: el, state: EditorState.create({ doc: value, extensions: made.current() }) });
    view.current = v;
    el.cmView = v;
    return () => {
      v.destroy();
      view.current = null;
      delete el.cmView;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const shownKey = useRef(docKey);
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    if (shownKey.current !== docKey) {
      // another file: a fresh state, so undo does not cross into the previous file
      shownKey.current = docKey;
      v.setState(EditorState.create({ doc: value, extensions: made.current() }));
    } else if (v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value }, annotations: Transaction.addToHistory.of(false) });
    }
  }, [value, docKey]);
  return view;
}

export interface CodeEditorProps {
  value: string;
  /** the document's identity (e.g. the file name): a new key starts a new undo history */
  docKey: string;
  onChange: (text: string) => void;
  /** compile errors in this document; a new array shows them, an edit clears them */
  markers?: EditorMarker[];
  /** bump `seq` to move the cursor to a line and focus the editor */
  jump?: { line: number; column: number; seq: number } | null;
  /** the editable text's accessible name, e.g. "index.ts source" */
  contentLabel: string;
  hintId: string;
}

/** the editable TypeScript editor; its container is labelled "Code editor" (the tests look for it) */
export function CodeEditor(p: CodeEditorProps) {
  const host = useRef<EditorHost>(null);
  const onChange = useRef(p.onChange);
  onChange.current = p.onChange;
  const view = useEditor(host, p.value, p.docKey, () =>
    extensions({ readOnly: false, label: p.contentLabel, describedBy: p.hintId, onChange: (s) => onChange.current(s) }),
  );
  const markers = p.markers;
  useEffect(() => {
    if (view.current) showMarkers(view.current, markers ?? []);
  }, [markers, p.docKey]);
  const jump = p.jump;
  useEffect(() => {
    if (view.current && jump) goTo(view.current, jump.line, jump.column);
  }, [jump?.seq]);
  return (
    <div class="weft-code">
      <div class="weft-code-editor" role="group" aria-label="Code editor" ref={host} />
      <p class="muted weft-code-hint" id={p.hintId}>
        Tab indents. Press <kbd>Esc</kbd> then <kbd>Tab</kbd> to leave the editor. <kbd>Ctrl</kbd>+<kbd>Z</kbd> undoes.
      </p>
    </div>
  );
}

/** a read-only, highlighted view of a source file (selectable and copyable, keyboard-scrollable) */
export function CodeViewer({ value, docKey, label }: { value: string; docKey: string; label: string }) {
  const host = useRef<EditorHost>(null);
  useEditor(host, value, docKey, () => extensions({ readOnly: true, label }));
  return <div class="weft-code weft-code-viewer" ref={host} />;
}
