import { Injectable } from '@nestjs/common';
import { ArtifactNotFoundError, InjectArtifactStore, type ArtifactStore } from '@trainyard/storage';
import { modelKey, type Artifact, type Variant } from '@trainyard/contracts';
import { variantField, type ModelKey } from '../registry/model-key';
import type { ModelVersionEntity } from '../registry/model-version.entity';
import { sourceKey } from '../registry/source-key';

/** `models/production/BTCUSDT/v3`, a specialist's `models/production/BTCUSDT/bull/v3`: apart from the plain model's `v<n>` folders. */
export const productionPrefix = (symbol: string, version: number, variant?: Variant) => `models/production/${modelKey(symbol, variant)}/v${version}`;
/** Names the key's production version; written last, so it only ever points at complete copies. */
export const pointerKey = (symbol: string, variant?: Variant) => `models/production/${modelKey(symbol, variant)}/CURRENT.json`;

export interface Refusal {
  rule: 'checksum_mismatch' | 'artifact_missing';
  reason: string;
}

export interface ProductionPointer {
  symbol: string;
  /** Only for a specialist: a plain model's pointer is as it always was. */
  variant?: ModelKey['variant'];
  version: number;
  prefix: string;
  artifacts: { name: string; uri: string; sha256: string; bytes: number }[];
  promotedAt: string;
}

/**
 * The production copies of a version's artifacts in the store, verified by checksum on both sides of
 * the copy. Checksums are read through (ArtifactStore.sha256), so a model of gigabytes is never held
 * in memory, however many promotions run at once.
 */
@Injectable()
export class ProductionArtifacts {
  constructor(@InjectArtifactStore() private readonly store: ArtifactStore) {}

  /** Reads back every artifact the trainer uploaded: a refusal when one is gone or no longer what was trained. */
  async verify(version: ModelVersionEntity): Promise<Refusal | null> {
    for (const a of version.artifacts) {
      const refusal = await this.verifySource(version, a);
      if (refusal) return refusal;
    }
    return null;
  }

  /**
   * Like verify, for a version going back into production: an intact production copy from its
   * earlier promotion stands in for a trainer artifact that retention has since deleted.
   */
  async verifyForRestore(version: ModelVersionEntity): Promise<Refusal | null> {
    for (const a of version.artifacts) {
      if (await this.holds(`${productionPrefix(version.symbol, version.version, version.variant)}/${a.name}`, a.sha256)) continue;
      const refusal = await this.verifySource(version, a);
      if (refusal) return refusal;
    }
    return null;
  }

  private async verifySource(version: ModelVersionEntity, a: Artifact): Promise<Refusal | null> {
    let actual: string;
    try {
      actual = await this.store.sha256(sourceKey(version, a.name));
    } catch (err) {
      if (err instanceof ArtifactNotFoundError) return { rule: 'artifact_missing', reason: `${a.name} is missing at ${a.uri}` };
      throw err;
    }
    if (actual === a.sha256) return null;
    // Short hashes keep the reason readable on a phone; the full one is in the version's artifacts.
    return { rule: 'checksum_mismatch', reason: `${a.name} changed since training: sha256 ${actual.slice(0, 12)}…, trained as ${a.sha256.slice(0, 12)}…` };
  }

  private async holds(key: string, sha256: string): Promise<boolean> {
    try {
      return (await this.store.sha256(key)) === sha256;
    } catch (err) {
      if (err instanceof ArtifactNotFoundError) return false;
      throw err;
    }
  }

  /**
   * Copies the artifacts to `models/production/<SYMBOL>/v<version>/`, checks each copy, then points
   * CURRENT.json at them. Returns the pointer's URI. Safe to repeat: every write replaces a whole
   * object, and a copy already there with the right checksum is kept rather than copied again.
   */
  async publish(version: ModelVersionEntity, at: Date): Promise<string> {
    const prefix = productionPrefix(version.symbol, version.version, version.variant);
    const artifacts: ProductionPointer['artifacts'] = [];
    for (const a of version.artifacts) {
      const key = `${prefix}/${a.name}`;
      if (!(await this.holds(key, a.sha256))) {
        await this.store.copy(sourceKey(version, a.name), key);
        const copied = await this.store.sha256(key);
        if (copied !== a.sha256) throw new Error(`copy of ${a.name} to ${key} has sha256 ${copied}, expected ${a.sha256}`);
      }
      artifacts.push({ name: a.name, uri: this.store.uri(key), sha256: a.sha256, bytes: a.bytes });
    }
    const pointer: ProductionPointer = { symbol: version.symbol, ...variantField(version), version: version.version, prefix, artifacts, promotedAt: at.toISOString() };
    const put = await this.store.put(pointerKey(version.symbol, version.variant), JSON.stringify(pointer, null, 2) + '\n', 'application/json');
    return put.uri;
  }

  async ping(): Promise<void> {
    await this.store.ping();
  }
}
