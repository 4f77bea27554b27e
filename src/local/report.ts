import { writeFileSync } from 'node:fs';
import type { SimulationResult } from './runner';

export function writeReport(path: string, result: SimulationResult): void {
  writeFileSync(path, JSON.stringify(result));
}
