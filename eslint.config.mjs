// ESLint for the whole tree: typescript-eslint's recommended rules plus its type-checked ones, with
// the type information of tsconfig.json. Formatting is Prettier's job (`npm run format`).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/', 'cdk.out/', 'dist/', 'coverage/', '.local/', '.scratch/', 'bench/results/'],
  },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // `async` on a method that does not await is how a class meets a Promise-returning interface
      // (a diff builder, a publisher, a stop()); it also turns a throw into a rejection, which the
      // callers rely on. Removing it to please this rule would change behaviour.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore marks a name kept on purpose: a parameter an interface requires, or a
      // key destructured only to leave it out of the rest.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `let x; x = await start({ onCrash: () => x?.stop() })`: a callback may run before the
      // assignment, where a `const` would throw (temporal dead zone).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Tests read JSON bodies, synthesized templates and log lines as untyped data and assert on
    // them; typing every such read would add casts, not safety. Production code keeps these rules.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // jest.isolateModules() and handlers that read their environment on import need a
      // synchronous require() at the point of the test.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // Plain JavaScript config files are CommonJS and are not part of tsconfig.json.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', process: 'readonly', console: 'readonly', __dirname: 'readonly' },
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
  {
    // Jest set-up files run inside the test environment, where jest's globals exist.
    files: ['test/**/*.js'],
    languageOptions: { globals: { jest: 'readonly', globalThis: 'readonly' } },
  },
);
