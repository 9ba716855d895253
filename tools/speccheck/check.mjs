// Syntax check of the TLA+ specifications: parses every .tla file under the
// given directories with the tree-sitter TLA+ grammar (its WASM build) and
// fails on any ERROR or MISSING node. It also checks that every name a .cfg
// file lists under INVARIANT(S)/PROPERTY(IES)/INIT/NEXT/SPECIFICATION is
// defined in the module of the same name (or a module it EXTENDS in the same
// directory tree).
//
// TLC is not installable from this project's registries, so this is what CI
// can check; see spec/README.md for running TLC.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, Language } from 'web-tree-sitter';

const here = path.dirname(fileURLToPath(import.meta.url));
const wasm = path.join(here, 'node_modules/@tlaplus/tree-sitter-tlaplus/tree-sitter-tlaplus.wasm');

function walk(dir, ext, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, ext, out);
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out;
}

function problems(node, out) {
  if (node.type === 'ERROR' || node.isMissing) {
    out.push({ row: node.startPosition.row + 1, col: node.startPosition.column + 1, kind: node.isMissing ? `missing ${node.type}` : 'syntax error' });
    if (out.length > 20) return;
  }
  if (!node.hasError && !node.isMissing) return;
  for (let i = 0; i < node.childCount; i++) problems(node.child(i), out);
}

// definedNames returns the operator names a module defines at top level and
// the modules it extends.
function definitions(tree) {
  const names = new Set();
  const extend = [];
  const visit = (n) => {
    if (['operator_definition', 'function_definition'].includes(n.type)) {
      const id = n.childForFieldName('name');
      if (id) names.add(id.text);
    }
    if (n.type === 'variable_declaration' || n.type === 'constant_declaration') {
      for (let i = 0; i < n.namedChildCount; i++) {
        const c = n.namedChild(i);
        if (c.type === 'identifier') names.add(c.text);
        else if (c.type === 'operator_declaration') {
          const id = c.childForFieldName('name');
          if (id) names.add(id.text);
        }
      }
    }
    if (n.type === 'extends') {
      for (let i = 0; i < n.namedChildCount; i++) extend.push(n.namedChild(i).text);
    }
    for (let i = 0; i < n.namedChildCount; i++) visit(n.namedChild(i));
  };
  visit(tree.rootNode);
  return { names, extend };
}

function cfgNames(text) {
  const want = [];
  let section = '';
  const keys = new Set(['INVARIANT', 'INVARIANTS', 'PROPERTY', 'PROPERTIES', 'INIT', 'NEXT', 'SPECIFICATION', 'CONSTRAINT', 'CONSTRAINTS', 'CONSTANT', 'CONSTANTS', 'SYMMETRY', 'VIEW', 'CHECK_DEADLOCK', 'ACTION_CONSTRAINT', 'ACTION_CONSTRAINTS', 'ALIAS', 'POSTCONDITION']);
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\\\*.*$/, '').trim();
    if (!line) continue;
    for (const tok of line.split(/\s+/)) {
      if (keys.has(tok)) { section = tok; continue; }
      if (/^(INVARIANTS?|PROPERTY|PROPERTIES|INIT|NEXT|SPECIFICATION|CONSTRAINTS?|ACTION_CONSTRAINTS?|ALIAS|VIEW|POSTCONDITION)$/.test(section) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(tok)) {
        want.push({ section, name: tok });
      }
    }
  }
  return want;
}

async function main() {
  const roots = process.argv.slice(2);
  if (roots.length === 0) {
    console.error('usage: node check.mjs DIR...');
    process.exit(2);
  }
  await Parser.init();
  const lang = await Language.load(wasm);
  const parser = new Parser();
  parser.setLanguage(lang);
  const modules = new Map();
  let failures = 0;
  let files = 0;
  for (const root of roots) {
    for (const f of walk(root, '.tla')) {
      files++;
      const src = fs.readFileSync(f, 'utf8');
      const tree = parser.parse(src);
      const ps = [];
      problems(tree.rootNode, ps);
      for (const p of ps) {
        console.error(`${f}:${p.row}:${p.col}: ${p.kind}`);
        failures++;
      }
      modules.set(path.basename(f, '.tla'), definitions(tree));
    }
  }
  const resolve = (mod, seen = new Set()) => {
    const m = modules.get(mod);
    if (!m || seen.has(mod)) return new Set();
    seen.add(mod);
    const all = new Set(m.names);
    for (const e of m.extend) for (const n of resolve(e, seen)) all.add(n);
    return all;
  };
  let cfgs = 0;
  for (const root of roots) {
    for (const f of walk(root, '.cfg')) {
      cfgs++;
      const mod = path.basename(f, '.cfg').replace(/(Liveness|_[A-Za-z0-9]+)$/, '');
      const candidates = [path.basename(f, '.cfg'), mod];
      const target = candidates.find((c) => modules.has(c));
      if (!target) {
        console.error(`${f}: no module ${candidates.join(' or ')}.tla for this config`);
        failures++;
        continue;
      }
      const defined = resolve(target);
      for (const { section, name } of cfgNames(fs.readFileSync(f, 'utf8'))) {
        if (!defined.has(name)) {
          console.error(`${f}: ${section} ${name} is not defined in ${target}.tla`);
          failures++;
        }
      }
    }
  }
  if (files === 0) {
    console.error('speccheck: no .tla files found');
    process.exit(1);
  }
  if (failures > 0) {
    console.error(`speccheck: ${failures} problem(s) in ${files} module(s), ${cfgs} config(s)`);
    process.exit(1);
  }
  console.log(`speccheck: ${files} module(s), ${cfgs} config(s), 0 syntax errors`);
}

main().catch((e) => { console.error(e); process.exit(1); });
