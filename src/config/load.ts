import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { importUserModule } from './user-module.ts';
import { ConfigError, type PipelineConfig, type PipelineInput, definePipeline } from './pipeline.ts';

/**
 * Loads a pipeline config file (its default export) and validates it, whether or not the file already called
 * `definePipeline`. Throws {@link ConfigError} for a missing file or an invalid config.
 */
export async function loadPipeline(path: string): Promise<PipelineConfig> {
  const absolute = resolve(path);
  if (!existsSync(absolute)) {
    throw new ConfigError([{ path: '(file)', message: `config file ${absolute} does not exist` }]);
  }
  const module = (await importUserModule(absolute)) as { default?: PipelineInput };
  if (module.default === undefined) {
    throw new ConfigError([{ path: '(file)', message: `${path} has no default export; export default definePipeline({...})` }]);
  }
  return definePipeline(module.default);
}
