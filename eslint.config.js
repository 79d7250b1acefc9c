// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers of src/, lowest first (see docs/layers.md). A folder imports only from its
// own layer and those before it; `import type` counts too, so no type-only cycle can form either.
// system.ts and index.ts sit above every folder but map/, which reads a system.
const LAYERS = ['base', 'shm', 'region', 'frame-allocator|checked', 'frame', 'heap', 'workers'];

// Only src/region/ names a word of shared memory: a word index constant (S_*, H_*, W_*, L_*, T_*,
// C_*, the slot and record sizes) imported from region/ anywhere else is an error. Tests may.
const WORDS = {
  regex: '(^|/)region/',
  importNamePattern: '^([SHWLTCJ]_|AUX_|SLOT_WORDS$|SLOT_SHIFT$|STORAGE_BYTE_OFFSET$|CACHE_BASE$|WORKER_WORDS$|TYPE_ENTRY_|LIST_WORDS$)',
  message: 'only src/region/ names a word of shared memory: call a function of region/ instead.',
};

const layerRules = LAYERS.map((layer, i) => {
  const above = [...LAYERS.slice(i + 1), 'map'].join('|');
  return {
    files: layer.split('|').map((folder) => `src/${folder}/**/*.ts`),
    rules: {
      'no-restricted-imports': /** @type {['error', object]} */ ([
        'error',
        {
          patterns: [
            {
              regex: `(^|/)(${above})/|(^|/)(system|index)\\.js$`,
              message: `src/${layer}/ is layer ${i}: it imports only from ${LAYERS.slice(0, i + 1).join(', ')}.`,
            },
            ...(layer === 'region' ? [] : [WORDS]),
          ],
        },
      ]),
    },
  };
});

// Above the layers: system.ts, index.ts and the frame map name no word either.
const topRules = {
  files: ['src/*.ts', 'src/map/**/*.ts'],
  rules: { 'no-restricted-imports': /** @type {['error', object]} */ (['error', { patterns: [WORDS] }]) },
};

export default tseslint.config(
  { ignores: ['dist/', 'docs/api/', 'coverage/', 'node_modules/', 'test/.doc-examples/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        SharedArrayBuffer: 'readonly',
        Atomics: 'readonly',
        WebAssembly: 'readonly',
        console: 'readonly',
        process: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        performance: 'readonly',
        globalThis: 'readonly',
        FinalizationRegistry: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layerRules,
  topRules,
);
