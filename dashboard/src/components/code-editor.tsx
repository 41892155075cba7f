// CodeMirror 6 for workflow sources: an editable TypeScript editor that can show compile errors at
// their line (lint diagnostic + line decoration), and a read-only highlighted viewer. Colours come
// from the page's CSS variables, so the editor follows light and dark with the rest of the dashboard.
import { useLayoutEffect, useRef } from "preact/hooks";
import { EditorState, StateEffect, StateField, type Text, type Extension } from "@codemirror/state";
import {
  Decoration, type DecorationSet, EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers,
} from "@codemirror/view";
import { javascript } from "@codemirror/lang-javascript";
import { lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { HighlightStyle, bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
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

// ---- keys: CodeMirror's own commands (newline-and-indent, undo history, select all, indent with Tab;
// Esc then Tab leaves the editor: CodeMirror's tab focus mode, so Tab never traps focus) ------------
const commands = keymap.of([...defaultKeymap, ...historyKeymap, ...lintKeymap, indentWithTab]);

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
    ...base, history(), commands, highlightActiveLine(), indentOnInput(), lintGutter(), errorLines, clearOnEdit,
    EditorView.updateListener.of((u) => {
      if (u.docChanged && onChange) onChange(u.state.doc.toString());
    }),
  ];
}

/**
 * One EditorView for the component's life. Within a document the editor owns the text: `value` is
 * read when the view is made and when `docKey` changes, never pushed back while the user types (an
 * effect runs a frame late, so a pushed-back value would be stale and undo the last keystrokes).
 */
function useEditor(host: { current: EditorHost | null }, value: string, docKey: string, make: (key: string) => Extension[], readOnly: boolean): { current: EditorView | null } {
  const view = useRef<EditorView | null>(null);
  const made = useRef(make);
  made.current = make;
  const shownKey = useRef(docKey);
  useLayoutEffect(() => {
    const el = host.current!;
    const v = new EditorView({ parent: el, state: EditorState.create({ doc: value, extensions: made.current(docKey) }) });
    view.current = v;
    el.cmView = v;
    return () => {
      v.destroy();
      view.current = null;
      delete el.cmView;
    };
  }, []);
  useLayoutEffect(() => {
    const v = view.current;
    if (!v) return;
    if (shownKey.current !== docKey) {
      // another document: a fresh state, so undo does not cross into the previous one
      shownKey.current = docKey;
      v.setState(EditorState.create({ doc: value, extensions: made.current(docKey) }));
    } else if (readOnly && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value, docKey]);
  return view;
}

export interface CodeEditorProps {
  /** the initial text of the document `docKey` names */
  value: string;
  /** the document's identity (e.g. the file name): a new key starts a new undo history */
  docKey: string;
  /** the text of the document `docKey` names (given back, so a late render cannot misfile it) */
  onChange: (text: string, docKey: string) => void;
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
  const view = useEditor(host, p.value, p.docKey, (key) =>
    extensions({ readOnly: false, label: p.contentLabel, describedBy: p.hintId, onChange: (s) => onChange.current(s, key) }), false,
  );
  const markers = p.markers;
  useLayoutEffect(() => {
    if (view.current) showMarkers(view.current, markers ?? []);
  }, [markers, p.docKey]);
  const jump = p.jump;
  useLayoutEffect(() => {
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
  useEditor(host, value, docKey, () => extensions({ readOnly: true, label }), true);
  return <div class="weft-code weft-code-viewer" ref={host} />;
}
