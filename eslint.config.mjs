// Lint: typescript-eslint's strict type-checked rules over every TypeScript file, plus the
// import boundaries of docs/architecture.md (client/ and server/ meet only through contracts/).
// The few relaxations are listed with their reason.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'client/dist/**', 'node_modules/**', 'ml/training/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    // vite.config.ts and the ambient typings/ are in no tsconfig's `include`; lint them with the default project.
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['client/vite.config.ts', 'typings/*.d.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and booleans print unambiguously in messages and logs.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => void thing()` and `onClick={() => setX(1)}` are the idiom, not a confusion.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidOperator: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // mongoose's Schema/model generics trip this rule on every `new Schema<T>(…)`; the models are typed by their interfaces.
    files: ['models/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-class-instance-assignment': 'off' },
  },
  {
    // Tests read untyped JSON bodies and index fixtures they just built; a wrong shape fails the assertion.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // Tests exist to check that runtime values match their declared types: a guard the types call
      // "unnecessary" (a response field, a polled state, a cleanup on a half-built fixture) is the check itself.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // jest/socket callbacks and fakes are async to match the signature they stand in for.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['client/**/*.ts', 'client/**/*.tsx'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/server/**', '**/models/**', '**/ml/**'], message: 'the client meets the server only through contracts/' }] },
      ],
    },
  },
  {
    files: ['server/**/*.ts', 'models/**/*.ts', 'ml/**/*.ts', 'contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/client/**'], message: 'server code never imports the client; share types through contracts/' }] },
      ],
    },
  },
);
