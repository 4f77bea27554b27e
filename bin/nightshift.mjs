#!/usr/bin/env node
// The `nightshift` command as npm installs it: registers tsx (resolved from this package, wherever it is installed)
// and runs the TypeScript CLI. `npm run nightshift` in this repository runs bin/nightshift.ts the same way.
import { register } from 'tsx/esm/api';

register();
await import('./nightshift.ts');
