/**
 * The API reference's claims, checked.
 *
 * (a) Every public name of the package has a doc comment, and an `@example` where the rule below
 *     asks for one. Public names: the exports of src/index.ts and the public members of exported
 *     classes (methods, accessors, properties, static methods, constructors; members inherited
 *     from an unexported base class count as the class's own). Not public: members that are
 *     private, protected, `@internal`, or named `_…`.
 *     - Classes, functions, constants and class members need an `@example`.
 *     - Types and interfaces need a doc comment; they need an `@example` when callers write them
 *       themselves (see `userWritten`).
 *     - EXCEPTIONS lists the few members that need a doc comment but no example.
 * (b) Every `@example` in src/ (a ```ts block) is a program that type-checks (strict) and runs
 *     against the built package (`import … from 'pageframe'` resolves to dist/ through the package's
 *     self-reference): each is written as a module under test/.doc-examples/ with the imports it
 *     leaves out (names the package exports) and, when it uses `sys` without making one,
 *     `const sys = FrameSystem.create({ frames: 64 })`. After it runs, that region (or the one the
 *     example made as `sys`) must satisfy `checkInvariants()` with every frame back in the
 *     allocator: examples show complete, leak-free use. What an example says it prints, it
 *     prints: each `console.log(…)` line runs once, in order, and a trailing `// comment` on it
 *     starts with the values printed (`'InUse' true`, `{ total: 64, ... }`: quotes are dropped,
 *     `...` stands for anything), up to a `: ` or ` (` that starts an explanation.
 *
 * The examples run against dist/, which `npm test` builds first; alone, run `npm run build` and
 * `npx vitest run test/doc-examples.test.ts`. A failed run leaves its modules in
 * test/.doc-examples/run-* to look at (gitignored, not linted).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const srcDir = join(root, 'src');
const indexFile = join(srcDir, 'index.ts');

/**
 * Members that need a doc comment but no `@example`, and why. Keep it short.
 */
const EXCEPTIONS: readonly { readonly member: RegExp; readonly why: string }[] = [
  { member: /\.toString$/, why: 'the standard conversion to a string; its text is for people, not a contract' },
  { member: /Error\.name$/, why: "Error.prototype.name: the class's name, as for every Error" },
];

// ------------------------------------------------------------------------------------------------
// The program and the doc comments.
// ------------------------------------------------------------------------------------------------

const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.build.json'), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  },
});
if (config === undefined) throw new Error('tsconfig.build.json could not be read');
const program = ts.createProgram([indexFile], { ...config.options, noEmit: true });
const checker = program.getTypeChecker();

const inSrc = (node: ts.Node): boolean => !relative(srcDir, node.getSourceFile().fileName).startsWith('..');
const jsDocs = (node: ts.Node): ts.JSDoc[] => ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
const tagsOf = (node: ts.Node): string[] => jsDocs(node).flatMap((d) => (d.tags ?? []).map((t) => t.tagName.text));
const isInternal = (node: ts.Node): boolean => tagsOf(node).includes('internal');
const hasDoc = (decls: readonly ts.Node[]): boolean =>
  decls.some((d) => jsDocs(d).some((doc) => (ts.getTextOfJSDocComment(doc.comment) ?? '').trim().length > 0));
const hasExample = (decls: readonly ts.Node[]): boolean =>
  decls.some((d) =>
    jsDocs(d).some((doc) =>
      (doc.tags ?? []).some((t) => t.tagName.text === 'example' && /```ts\n/.test(ts.getTextOfJSDocComment(t.comment) ?? '')),
    ),
  );

const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(indexFile)!)!;
const exported = checker.getExportsOfModule(moduleSymbol).map((s) => ({ name: s.name, symbol: resolve(s) }));
const exportedSymbols = new Set(exported.map((e) => e.symbol));

// ------------------------------------------------------------------------------------------------
// (a) The public names.
// ------------------------------------------------------------------------------------------------

interface ApiName {
  /** e.g. `Frame`, `Frame.clone`, `Frame.fromRaw` (static), `new FrameAllocOptions`. */
  readonly name: string;
  readonly kind: 'class' | 'function' | 'constant' | 'type' | 'member' | 'constructor';
  readonly decls: readonly ts.Declaration[];
  readonly needsExample: boolean;
}

const isPrivate = (d: ts.Declaration): boolean =>
  (ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 ||
  (ts.isClassElement(d) && d.name !== undefined && ts.isPrivateIdentifier(d.name));

/** A member's name as written: `clone`, `[Symbol.dispose]`. */
const memberName = (d: ts.Declaration): string => {
  const name = ts.getNameOfDeclaration(d);
  return name === undefined ? '?' : ts.isIdentifier(name) || ts.isPrivateIdentifier(name) ? name.text : name.getText();
};

/** The public members of an exported class: own ones, and those of unexported base classes. */
function classMembers(className: string, symbol: ts.Symbol): ApiName[] {
  const decl = symbol.declarations!.find(ts.isClassDeclaration)!;
  const out: ApiName[] = [];
  const sides: [ts.Type, boolean][] = [
    [checker.getDeclaredTypeOfSymbol(symbol), false],
    [checker.getTypeOfSymbolAtLocation(symbol, decl), true],
  ];
  for (const [type, isStatic] of sides) {
    for (const p of checker.getPropertiesOfType(type)) {
      if (p.name === 'prototype' && isStatic) continue;
      const decls = (p.declarations ?? []).filter((d) => inSrc(d) && !isPrivate(d));
      if (decls.length === 0 || decls.some(isInternal)) continue;
      const name = memberName(decls[0]);
      if (name.startsWith('_')) continue;
      // Inherited from another exported class: checked there.
      const owner = ts.isParameter(decls[0]) ? decls[0].parent.parent : decls[0].parent;
      if (ts.isClassLike(owner) && owner !== decl && owner.name !== undefined) {
        const ownerSymbol = checker.getSymbolAtLocation(owner.name);
        if (ownerSymbol !== undefined && exportedSymbols.has(ownerSymbol)) continue;
      }
      out.push({ name: `${className}.${name}`, kind: 'member', decls, needsExample: true });
    }
  }
  for (const sig of checker.getSignaturesOfType(sides[1][0], ts.SignatureKind.Construct)) {
    const d = sig.getDeclaration() as ts.Declaration | undefined;
    if (d === undefined || !ts.isConstructorDeclaration(d) || !inSrc(d) || isPrivate(d) || isInternal(d)) continue;
    if (out.some((n) => n.kind === 'constructor')) continue;
    out.push({ name: `new ${className}`, kind: 'constructor', decls: [d], needsExample: true });
  }
  return out;
}

/**
 * The exported types whose values callers write themselves, which therefore need an example:
 * types named in an input position of the public API (a parameter of an exported function or
 * public method, a type parameter's constraint, the return value of a callback the caller
 * passes), and, transitively, in the bodies of such types; but not types the API hands out
 * whole (as a return value, a public property, an argument of a callback it calls: the caller
 * gets one to pass back, e.g. `sys.handle`, `frame.intoRaw()`), unless they are interfaces with
 * methods, which callers implement (`GlobalFrameAllocator`).
 */
function userWritten(): Set<ts.Symbol> {
  type Dir = 'in' | 'out';
  const flip = (d: Dir): Dir => (d === 'in' ? 'out' : 'in');
  const positions: [ts.TypeNode | undefined, Dir][] = [];
  const signature = (d: ts.SignatureDeclarationBase): void => {
    for (const p of d.parameters) if (!(ts.isIdentifier(p.name) && p.name.text === 'this')) positions.push([p.type, 'in']);
    for (const t of d.typeParameters ?? []) positions.push([t.constraint, 'in']);
    positions.push([d.type, 'out']);
  };
  const typeBodies: ts.Node[] = [];
  for (const { symbol } of exported) {
    for (const d of symbol.declarations ?? []) {
      if (ts.isFunctionDeclaration(d)) signature(d);
      if (ts.isTypeAliasDeclaration(d)) typeBodies.push(d.type);
      if (ts.isInterfaceDeclaration(d)) typeBodies.push(...d.members);
      if (!ts.isClassDeclaration(d)) continue;
      for (const m of d.members) {
        if (isPrivate(m) || isInternal(m)) continue;
        if (ts.isMethodDeclaration(m) || ts.isConstructorDeclaration(m) || ts.isSetAccessor(m)) signature(m);
        if (ts.isGetAccessor(m) || ts.isPropertyDeclaration(m)) positions.push([m.type, 'out']);
        if (ts.isConstructorDeclaration(m)) {
          for (const p of m.parameters) if (ts.isParameterPropertyDeclaration(p, m) && !isPrivate(p)) positions.push([p.type, 'out']);
        }
      }
    }
  }
  const wrappers = new Set(['Promise', 'Array', 'ReadonlyArray', 'Iterable', 'IterableIterator']);
  // Walks a type: `found` gets each type named, its direction, and whether a value of it is the
  // whole value at that position (through unions, arrays, tuples, Promise<…>), not a part of one.
  const walk = (node: ts.Node | undefined, dir: Dir, whole: boolean, found: (s: ts.Symbol, dir: Dir, whole: boolean) => void): void => {
    if (node === undefined) return;
    if (ts.isFunctionTypeNode(node) || ts.isConstructorTypeNode(node) || ts.isMethodSignature(node)) {
      for (const p of node.parameters) walk(p.type, flip(dir), true, found);
      walk(node.type, dir, true, found);
    } else if (ts.isPropertySignature(node)) {
      walk(node.type, dir, true, found);
    } else if (ts.isTypeReferenceNode(node)) {
      const s = checker.getSymbolAtLocation(node.typeName);
      if (s !== undefined) found(resolve(s), dir, whole);
      const wrapper = wrappers.has(node.typeName.getText());
      for (const arg of node.typeArguments ?? []) walk(arg, dir, whole && wrapper, found);
    } else if (ts.isUnionTypeNode(node) || ts.isParenthesizedTypeNode(node) || ts.isArrayTypeNode(node) || ts.isTupleTypeNode(node) || ts.isNamedTupleMember(node) || ts.isOptionalTypeNode(node)) {
      ts.forEachChild(node, (child) => walk(child, dir, whole, found));
    } else {
      ts.forEachChild(node, (child) => walk(child, dir, false, found));
    }
  };
  const handedOut = new Set<ts.Symbol>();
  const out = (s: ts.Symbol, dir: Dir, whole: boolean): void => {
    if (dir === 'out' && whole) handedOut.add(s);
  };
  for (const [node, dir] of positions) walk(node, dir, true, out);
  for (const body of typeBodies) walk(body, 'in', false, out); // the callbacks' arguments
  const inputs = new Set<ts.Symbol>();
  const queue: ts.Symbol[] = [];
  const input = (s: ts.Symbol, dir: Dir): void => {
    if (dir !== 'in' || inputs.has(s)) return;
    inputs.add(s);
    if (!handedOut.has(s)) queue.push(s);
  };
  for (const [node, dir] of positions) walk(node, dir, true, input);
  while (queue.length > 0) {
    for (const d of queue.pop()!.declarations ?? []) {
      if (ts.isTypeAliasDeclaration(d)) walk(d.type, 'in', true, input);
      if (ts.isInterfaceDeclaration(d)) for (const m of d.members) walk(m, 'in', true, input);
    }
  }
  const implemented = (s: ts.Symbol): boolean =>
    (s.declarations ?? []).some((d) => ts.isInterfaceDeclaration(d) && d.members.some(ts.isMethodSignature));
  return new Set([...inputs].filter((s) => !handedOut.has(s) || implemented(s)));
}

function publicNames(): ApiName[] {
  const written = userWritten();
  const out: ApiName[] = [];
  for (const { name, symbol } of exported) {
    const decls = symbol.declarations ?? [];
    const classes = decls.filter(ts.isClassDeclaration);
    const functions = decls.filter(ts.isFunctionDeclaration);
    const constants = decls.filter(ts.isVariableDeclaration);
    const types = decls.filter((d) => ts.isInterfaceDeclaration(d) || ts.isTypeAliasDeclaration(d));
    if (classes.length > 0) out.push({ name, kind: 'class', decls: classes, needsExample: true }, ...classMembers(name, symbol));
    if (functions.length > 0) out.push({ name, kind: 'function', decls: functions, needsExample: true });
    if (constants.length > 0) out.push({ name, kind: 'constant', decls: constants, needsExample: true });
    if (types.length > 0) out.push({ name: classes.length + constants.length > 0 ? `${name} (type)` : name, kind: 'type', decls: types, needsExample: written.has(symbol) });
  }
  return out;
}

const where = (d: ts.Node): string => {
  const sf = d.getSourceFile();
  return `${relative(root, sf.fileName)}:${sf.getLineAndCharacterOfPosition(d.getStart()).line + 1}`;
};

// ------------------------------------------------------------------------------------------------
// (b) The examples.
// ------------------------------------------------------------------------------------------------

interface Example {
  /** What it documents, e.g. `Frame.clone`. */
  readonly of: string;
  /** `src/frame/frame.ts:123`: the line of the block's first line of code. */
  readonly at: string;
  readonly code: string;
}

/** The name of the declaration a doc comment belongs to, qualified by its class. */
function documented(node: ts.Node): string {
  const own = ts.isVariableStatement(node) ? node.declarationList.declarations[0] : node;
  const name = ts.isConstructorDeclaration(own) ? 'constructor' : memberName(own as ts.Declaration);
  const parent = own.parent;
  return ts.isClassLike(parent) && parent.name !== undefined ? `${parent.name.text}.${name}` : name;
}

/** Every ```ts block of every `@example` in src/. */
function examplesInSrc(): Example[] {
  const out: Example[] = [];
  for (const sf of program.getSourceFiles()) {
    if (!inSrc(sf)) continue;
    const seen = new Set<number>();
    const visit = (node: ts.Node): void => {
      for (const doc of jsDocs(node)) {
        if (seen.has(doc.pos)) continue;
        seen.add(doc.pos);
        const firstLine = sf.getLineAndCharacterOfPosition(doc.pos).line;
        // The comment's lines without the leading ` * `; fences and indentation as written.
        const lines = sf.text.slice(doc.pos, doc.end).split('\n').map((l) => l.replace(/^\s*(\/\*\*|\*\/|\*)? ?/, '').replace(/\s*\*\/$/, ''));
        let inExample = false;
        let block: string[] | undefined;
        let blockLine = 0;
        lines.forEach((line, i) => {
          if (block === undefined && /^@\w+/.test(line)) inExample = line.startsWith('@example');
          if (!inExample) return;
          if (block === undefined && line.trim() === '```ts') {
            block = [];
            blockLine = firstLine + i + 2;
          } else if (block !== undefined && line.trim() === '```') {
            out.push({ of: documented(node), at: `${relative(root, sf.fileName)}:${blockLine}`, code: block.join('\n') });
            block = undefined;
          } else if (block !== undefined) block.push(line);
        });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

/** Top-level names an example declares (imports, variables, functions, classes). */
function declaredNames(sf: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const bind = (n: ts.BindingName): void => {
    if (ts.isIdentifier(n)) names.add(n.text);
    else for (const e of n.elements) if (!ts.isOmittedExpression(e)) bind(e.name);
  };
  for (const s of sf.statements) {
    if (ts.isVariableStatement(s)) for (const d of s.declarationList.declarations) bind(d.name);
    if ((ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s)) && s.name !== undefined) names.add(s.name.text);
    if (ts.isImportDeclaration(s) && s.importClause !== undefined) {
      const c = s.importClause;
      if (c.name !== undefined) names.add(c.name.text);
      if (c.namedBindings !== undefined) {
        if (ts.isNamespaceImport(c.namedBindings)) names.add(c.namedBindings.name.text);
        else for (const e of c.namedBindings.elements) names.add(e.name.text);
      }
    }
  }
  return names;
}

/** Identifiers an example uses as values or types (not as property names after a dot). */
function usedNames(sf: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n) && !(ts.isPropertyAccessExpression(n.parent) && n.parent.name === n)) names.add(n.text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return names;
}

const typeOnlyExports = new Set(
  exported.filter((e) => (e.symbol.flags & ts.SymbolFlags.Value) === 0).map((e) => e.name),
);
const exportNames = new Set(exported.map((e) => e.name));

/** Per `console.log(` line of an example, in order: the pattern its trailing comment promises. */
function promises(code: string): (RegExp | null)[] {
  const out: (RegExp | null)[] = [];
  for (const line of code.split('\n')) {
    const calls = line.split('console.log(').length - 1;
    const comment = /\)[;,]?\s+\/\/ ?(.*)$/.exec(line)?.[1];
    for (let k = 0; k < calls; k++) out.push(comment === undefined || k < calls - 1 ? null : promised(comment));
  }
  return out;
}

/** `'InUse' true: why` → /^InUse true$/; `{ total: 64, ... }` → /^\{ total: 64, .* \}$/. */
function promised(comment: string): RegExp {
  let text = '';
  let quote = '';
  let depth = 0;
  for (let i = 0; i < comment.length; i++) {
    const c = comment[i];
    // Quotes around a printed string go (console.log prints it bare); inside an object or array
    // they stay (util.inspect quotes nested strings).
    if (quote !== '') {
      if (c !== quote || depth > 0) text += c;
      if (c === quote) quote = '';
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      if (depth > 0) text += c;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    if (c === '}' || c === ']') depth--;
    if (depth === 0 && (comment.startsWith(': ', i) || comment.startsWith(' (', i))) break;
    text += c;
  }
  const pattern = collapse(text)
    .split(/\.\.\.|…/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}$`, 's');
}

const collapse = (s: string): string => s.replace(/\s+/g, ' ').trim();

interface Written {
  readonly example: Example;
  readonly file: string;
  /** Lines added before the example's first line. */
  readonly prelude: number;
}

/** Writes `example` as module `file` (.mts): the imports it leaves out, `sys` if needed. */
function writeExample(example: Example, file: string): Written {
  const sf = ts.createSourceFile(file, example.code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const declared = declaredNames(sf);
  const used = usedNames(sf);
  const imports = [...used].filter((n) => exportNames.has(n) && !declared.has(n)).sort();
  const head: string[] = [];
  if (imports.length > 0) {
    head.push(`import { ${imports.map((n) => (typeOnlyExports.has(n) ? `type ${n}` : n)).join(', ')} } from 'pageframe';`);
  }
  const providesSys = used.has('sys') && !declared.has('sys');
  if (providesSys) {
    head.push(`import { FrameSystem as DocExampleFrameSystem } from 'pageframe';`);
    head.push('const sys = DocExampleFrameSystem.create({ frames: 64 });');
  }
  const tail = providesSys || declared.has('sys') ? '\nexport { sys as docExampleSys };\n' : '\nexport {};\n';
  writeFileSync(file, `${head.join('\n')}\n${example.code}\n${tail}`);
  return { example, file, prelude: Math.max(head.length, 1) };
}

const examplesRoot = join(root, 'test', '.doc-examples');
let workDir: string | undefined;
let failed = false;

afterAll(() => {
  // Kept when a check failed, to look at; else removed.
  if (workDir !== undefined && !failed) rmSync(workDir, { recursive: true, force: true });
  if (existsSync(examplesRoot) && readdirSync(examplesRoot).length === 0) rmSync(examplesRoot, { recursive: true });
});

describe('API docs', () => {
  const names = publicNames();
  const examples = examplesInSrc();

  it('every public name has a doc comment, and an @example where the rule asks for one', () => {
    expect(names.length).toBeGreaterThan(100);
    const problems: string[] = [];
    for (const n of names) {
      const exempt = EXCEPTIONS.find((e) => e.member.test(n.name));
      if (!hasDoc(n.decls)) problems.push(`${n.name} (${n.kind}, ${where(n.decls[0])}): no doc comment`);
      else if (n.needsExample && exempt === undefined && !hasExample(n.decls)) {
        problems.push(`${n.name} (${n.kind}, ${where(n.decls[0])}): no @example with a \`\`\`ts block`);
      }
    }
    if (problems.length > 0) failed = true;
    expect(problems, `${problems.length} public name(s) lack documentation:\n${problems.join('\n')}`).toEqual([]);
  });

  it('every exception names something that exists', () => {
    for (const e of EXCEPTIONS) expect(names.some((n) => e.member.test(n.name)), String(e.member)).toBe(true);
  });

  it('every @example type-checks (strict) and runs against the built package, leaving its region whole', () => {
    expect(examples.length).toBeGreaterThan(100);
    expect(existsSync(join(root, 'dist', 'index.d.ts')), 'the examples run against dist/: npm run build first').toBe(true);
    mkdirSync(examplesRoot, { recursive: true });
    workDir = mkdtempSync(join(examplesRoot, 'run-'));
    const written = examples.map((e, i) => writeExample(e, join(workDir!, `example-${String(i).padStart(3, '0')}.mts`)));
    const byFile = new Map(written.map((w) => [w.file, w]));
    const origin = (w: Written, line: number): string => `${w.example.of} (${w.example.at.replace(/\d+$/, (n) => String(Number(n) + line - w.prelude))})`;

    // Type-check and compile them all at once; one module per example.
    const options: ts.CompilerOptions = {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2024.d.ts', 'lib.esnext.disposable.d.ts', 'lib.dom.d.ts'], // as tsconfig.json
      types: ['node'],
      skipLibCheck: true,
      noEmitOnError: false,
      outDir: workDir,
      rootDir: workDir,
    };
    const exampleProgram = ts.createProgram([...byFile.keys()], options);
    const emitted = exampleProgram.emit();
    const diagnostics = [...ts.getPreEmitDiagnostics(exampleProgram), ...emitted.diagnostics].map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      const w = d.file === undefined ? undefined : byFile.get(d.file.fileName);
      if (w === undefined || d.start === undefined) return text;
      const line = d.file!.getLineAndCharacterOfPosition(d.start).line;
      return `${origin(w, line)}: ${text}`;
    });
    if (diagnostics.length > 0) failed = true;
    expect(diagnostics, `examples that do not type-check:\n${diagnostics.join('\n')}`).toEqual([]);

    // Run them in one Node process, one after the other.
    const runner = join(workDir, 'run.mjs');
    writeFileSync(
      runner,
      `import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
const results = [];
const log = console.log;
for (const file of JSON.parse(process.argv[2])) {
  const out = [];
  console.log = (...args) => out.push(format(...args));
  try {
    const mod = await import(pathToFileURL(file).href);
    const sys = mod.docExampleSys;
    if (sys !== undefined) {
      sys.checkInvariants();
      const s = sys.stats();
      if (s.free !== s.total) throw new Error(\`\${s.total - s.free} frame(s) of sys not back in the allocator: \${JSON.stringify(s)}\`);
    }
    results.push({ file, ok: true, out });
  } catch (e) {
    results.push({ file, ok: false, out, error: String(e && e.stack || e) });
  }
}
console.log = log;
process.stdout.write(JSON.stringify(results), () => process.exit(0)); // timers examples left behind end here
`,
    );
    const files = written.map((w) => w.file.replace(/\.mts$/, '.mjs'));
    expect(readdirSync(workDir).filter((f) => f.endsWith('.mjs')).length).toBe(files.length + 1);
    const stdout = execFileSync(process.execPath, [runner, JSON.stringify(files)], { encoding: 'utf8', timeout: 60_000, cwd: root });
    const results = JSON.parse(stdout) as { file: string; ok: boolean; out: string[]; error?: string }[];
    expect(results.length).toBe(files.length);
    const failures = results
      .filter((r) => !r.ok)
      .map((r) => {
        const w = byFile.get(r.file.replace(/\.mjs$/, '.mts'))!;
        return `${origin(w, w.prelude)} [${relative(root, w.file)}]: ${r.error}`;
      });
    if (failures.length > 0) failed = true;
    expect(failures, `examples that failed:\n${failures.join('\n\n')}`).toEqual([]);

    // What they say they print, they print.
    const wrong: string[] = [];
    for (const r of results) {
      const w = byFile.get(r.file.replace(/\.mjs$/, '.mts'))!;
      const want = promises(w.example.code);
      const at = origin(w, w.prelude);
      if (r.out.length !== want.length) {
        wrong.push(`${at}: ${want.length} console.log call(s) in the code, ${r.out.length} line(s) printed:\n${r.out.join('\n')}`);
        continue;
      }
      want.forEach((re, i) => {
        if (re !== null && !re.test(collapse(r.out[i]))) wrong.push(`${at}: printed ${JSON.stringify(r.out[i])}; the comment says ${re}`);
      });
    }
    if (wrong.length > 0) failed = true;
    expect(wrong, `examples whose output is not what their comments say:\n${wrong.join('\n')}`).toEqual([]);
  });
});
