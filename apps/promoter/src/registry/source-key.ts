import type { ModelVersionEntity } from './model-version.entity';

/** Where the trainer uploaded an artifact: `<artifactsPrefix>/<name>` in the shared store. */
export const sourceKey = (version: Pick<ModelVersionEntity, 'artifactsPrefix'>, name: string) => `${version.artifactsPrefix}/${name}`;
