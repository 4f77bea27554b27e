#!/usr/bin/env node
// The `nightshift` command as npm installs it. It registers tsx (resolved from this package, wherever it is
// installed), which loads the user's TypeScript config and agents, then runs the CLI: compiled in dist/ when the
// package was built, from its sources otherwise. `npm run nightshift` in this repository runs bin/nightshift.ts.
import { existsSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const compiled = new URL('../dist/bin/nightshift.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : './nightshift.ts');
