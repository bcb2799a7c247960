#!/usr/bin/env node
// The parts of docs/ that restate the code are generated from its TSDoc, so they cannot drift:
// the options table in docs/options.md (the `BetaNMFOptions` interface) and the list of public
// exports in docs/api.md (what lib/index.ts exports, classes with their public members).
//
//   node scripts/gen-docs.js --write   rewrite the generated sections after editing the TSDoc
//   node scripts/gen-docs.js --check   exit 1 when a committed section differs (the docs test runs it)
//
// A small script on the TypeScript compiler API rather than TypeDoc: TypeDoc writes HTML sites
// (Markdown needs a plugin), pulls a dependency tree into devDependencies, and each release pins a
// narrow range of TypeScript versions; this needs only the `typescript` the build already uses,
// and writes plain Markdown tables into the pages people read on GitHub and npm.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.join(__dirname, '..');

/** The generated sections: which page, between which markers, and how to make their text. */
const SECTIONS = [
  { file: 'docs/options.md', name: 'options', make: optionsTable },
  { file: 'docs/api.md', name: 'exports', make: exportsReference },
];

function begin(name) {
  return `<!-- gen-docs:${name} begin (generated from the TSDoc by scripts/gen-docs.js: edit the comments in lib/, then run node scripts/gen-docs.js --write) -->`;
}
function end(name) {
  return `<!-- gen-docs:${name} end -->`;
}

/** The checker over lib/index.ts, with the package's own compiler options. */
function load() {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  const program = ts.createProgram({ rootNames: [path.join(root, 'lib', 'index.ts')], options: parsed.options });
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(path.join(root, 'lib', 'index.ts'));
  if (!index) throw new Error('gen-docs: lib/index.ts not found');
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(index));
  return { checker, exports };
}

/** A symbol's TSDoc as one Markdown table cell. */
function cell(text) {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').trim() || '—';
}

function docOf(checker, symbol) {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker));
}

function tag(checker, symbol, name) {
  const t = symbol.getJsDocTags(checker).find((x) => x.name === name);
  return t && (t.text ? ts.displayPartsToString(t.text) : '');
}

function isInternal(checker, symbol) {
  return tag(checker, symbol, 'internal') !== undefined;
}

/**
 * A documented default: an `@defaultValue` tag, else the comment's sentence that starts with
 * "Default" (taken out of the description so it is said once).
 */
function splitDefault(checker, symbol) {
  const doc = docOf(checker, symbol).replace(/\s*\n\s*/g, ' ').trim();
  const tagged = tag(checker, symbol, 'defaultValue');
  if (tagged !== undefined) return { description: doc, def: tagged };
  const m = /(?:^|(?<=[.;]\s))Default(?::|\b)\s*(.*?\.)(?=\s|$)/.exec(doc);
  if (!m) return { description: doc, def: '' };
  const description = (doc.slice(0, m.index) + doc.slice(m.index + m[0].length)).replace(/\s+/g, ' ').trim();
  return { description, def: m[1].replace(/\.$/, '') };
}

/** A property's declared type, aliases of literal unions spelt out ('random' | 'nndsvd' | …). */
function typeText(checker, decl) {
  if (!decl.type) return '';
  const type = checker.getTypeFromTypeNode(decl.type);
  const spelt = checker.typeToString(type, undefined, ts.TypeFormatFlags.InTypeAlias | ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType);
  return spelt.length <= 80 ? spelt : decl.type.getText();
}

function optionsTable({ checker, exports }) {
  const sym = exports.find((s) => s.name === 'BetaNMFOptions');
  if (!sym) throw new Error('gen-docs: lib/index.ts does not export BetaNMFOptions');
  const iface = checker.getAliasedSymbol(sym);
  const rows = ['| option | type | default | meaning |', '|---|---|---|---|'];
  for (const prop of checker.getDeclaredTypeOfSymbol(iface).getProperties()) {
    if (isInternal(checker, prop)) continue;
    const decl = prop.valueDeclaration ?? prop.declarations[0];
    const { description, def } = splitDefault(checker, prop);
    rows.push(`| \`${prop.name}\` | \`${cell(typeText(checker, decl))}\` | ${def ? cell(def) : ''} | ${cell(description)} |`);
  }
  return rows.join('\n');
}

function kindOf(symbol) {
  const f = symbol.flags;
  if (f & ts.SymbolFlags.Class) return 'class';
  if (f & ts.SymbolFlags.Function) return 'function';
  if (f & ts.SymbolFlags.Interface) return 'interface';
  if (f & ts.SymbolFlags.TypeAlias) return 'type';
  if (f & ts.SymbolFlags.Variable) return 'const';
  return 'export';
}

/** `name(a, b, c?)`: the parameter names of the first declaration (types are in the .d.ts). */
function callForm(name, decl) {
  if (!decl || !decl.parameters) return `\`${name}\``;
  const params = decl.parameters.map((p) => p.getText().replace(/\s*[:=][\s\S]*$/, '') + (p.questionToken || p.initializer ? '?' : ''));
  return `\`${name}(${params.join(', ').replace(/\?\?/g, '?')})\``;
}

/** The public members of a class: properties, getters and methods, statics as Class.name. */
function classMembers(checker, cls) {
  const rows = [];
  const decl = cls.declarations.find(ts.isClassDeclaration);
  for (const m of decl.members) {
    const mods = ts.getCombinedModifierFlags(m);
    if (!m.name || ts.isPrivateIdentifier(m.name) || mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
    if (ts.isSetAccessor(m) || ts.isIndexSignatureDeclaration(m)) continue;
    const sym = checker.getSymbolAtLocation(m.name);
    if (!sym || isInternal(checker, sym)) continue;
    const name = m.name.getText().replace(/^\[Symbol\.(\w+)\]$/, '[Symbol.$1]');
    const shown = (mods & ts.ModifierFlags.Static ? `${cls.name}.` : '.') + name;
    if (rows.some((r) => r.shown === shown)) continue; // overloads: the first signature speaks for all
    const call = ts.isMethodDeclaration(m) || ts.isConstructorDeclaration(m);
    rows.push({ shown, text: `| ${call ? callForm(shown, m) : `\`${shown}\``} | ${cell(docOf(checker, sym))} |` });
  }
  return rows.map((r) => r.text);
}

function exportsReference({ checker, exports }) {
  const byFile = new Map();
  for (const sym of exports) {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const decl = target.declarations?.[0];
    if (!decl) continue;
    const file = path.relative(root, decl.getSourceFile().fileName).split(path.sep).join('/');
    if (!byFile.has(file)) byFile.set(file, []);
    byFile.get(file).push({ name: sym.name, target, decl });
  }
  const out = [];
  for (const [file, syms] of byFile) {
    out.push(`#### From \`${file}\``, '', '| export | kind | what it is |', '|---|---|---|');
    const classes = [];
    for (const { name, target, decl } of syms) {
      const kind = kindOf(target);
      const shown = kind === 'function' ? callForm(name, decl) : `\`${name}\``;
      out.push(`| ${shown} | ${kind} | ${cell(docOf(checker, target))} |`);
      if (kind === 'class') classes.push(target);
    }
    for (const cls of classes) {
      out.push('', `\`${cls.name}\`'s public members:`, '', '| member | what it is |', '|---|---|', ...classMembers(checker, cls));
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}

/** Each page with its generated sections replaced; throws when a page lacks its markers. */
function generate() {
  const project = load();
  const pages = new Map();
  for (const s of SECTIONS) {
    const file = path.join(root, s.file);
    const text = pages.get(file) ?? fs.readFileSync(file, 'utf8');
    // The begin marker is found by its prefix and rewritten whole, so a bare one is enough to start.
    const a = text.indexOf(`<!-- gen-docs:${s.name} begin`), b = text.indexOf(end(s.name));
    if (a < 0 || b < a) throw new Error(`gen-docs: ${s.file} lacks the markers\n${begin(s.name)}\n${end(s.name)}`);
    pages.set(file, `${text.slice(0, a)}${begin(s.name)}\n\n${s.make(project)}\n\n${text.slice(b)}`);
  }
  return pages;
}

module.exports = { generate, SECTIONS };

if (require.main === module) {
  const mode = process.argv[2];
  if (mode !== '--write' && mode !== '--check') {
    console.error('usage: node scripts/gen-docs.js --write | --check');
    process.exit(2);
  }
  let stale = 0;
  for (const [file, text] of generate()) {
    if (fs.readFileSync(file, 'utf8') === text) continue;
    const rel = path.relative(root, file);
    if (mode === '--write') {
      fs.writeFileSync(file, text);
      console.log(`wrote ${rel}`);
    } else {
      console.error(`${rel}: its generated sections differ from the TSDoc; run node scripts/gen-docs.js --write`);
      stale++;
    }
  }
  process.exit(stale ? 1 : 0);
}
