// The package's build: the SDK's two entry points, each one ES module with
// the protocol code it uses bundled in (protocol/ and common/ stay one
// implementation in this repository, shared with the Worker), and one
// declaration file each. Dependencies and the onnxruntime-web peer stay
// imports, so an application's bundler sees them once.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { node: 'node.ts', browser: 'browser.ts' },
  format: ['esm'],
  target: 'es2022',
  platform: 'neutral',
  dts: { compilerOptions: { composite: false, incremental: false } },
  clean: true,
  sourcemap: true,
  splitting: true,
  treeshake: true,
  tsconfig: '../tsconfig.json',
});
