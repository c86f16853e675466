/**
 * Node's WebAssembly global, for the server build (tsconfig.build.json), which compiles without
 * the DOM lib: TypeScript declares WebAssembly only in lib.dom. Only what server code uses.
 */
declare namespace WebAssembly {
  class RuntimeError extends Error {}
}
