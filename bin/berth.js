#!/usr/bin/env node
// Entry point of the `berth` command. The sources are TypeScript run through Node's
// type stripping, so the project's pinned Node (>= 24, from the `node` npm package) is required.
const [major] = process.versions.node.split(".").map(Number);
if (major < 24) {
  console.error(`berth needs Node 24 or newer (this is ${process.version}); run it through npm (npx berth, npm run berth) so the project's pinned Node is used.`);
  process.exit(2);
}
// V8's code cache on disk (under the OS temp directory): later runs skip compiling the same modules again.
const { enableCompileCache } = await import("node:module");
enableCompileCache?.();
await import("../src/cli/main.ts");
