import { ConfigError, loadConfig } from '@trainyard/config';
import { promoterEnv } from './promoter.config';

describe('promoter configuration', () => {
  it('applies auto promotions unless PROMOTER_DRY_ONLY is set', () => {
    expect(loadConfig(promoterEnv, {}).PROMOTER_DRY_ONLY).toBe(false);
    expect(loadConfig(promoterEnv, { PROMOTER_DRY_ONLY: 'true' }).PROMOTER_DRY_ONLY).toBe(true);
  });

  // An upgrade must not silently start applying promotions where RUN_MODE=canary or live kept them dry.
  it.each(['canary', 'live', 'normal'])('refuses to start while the replaced RUN_MODE is set (%s), naming what replaced it', (value) => {
    expect(() => loadConfig(promoterEnv, { RUN_MODE: value, PROMOTER_DRY_ONLY: 'true' })).toThrow(ConfigError);
    expect(() => loadConfig(promoterEnv, { RUN_MODE: value })).toThrow(/RUN_MODE: RUN_MODE was replaced by PROMOTER_DRY_ONLY=true \(canary and live both meant dry-only\)/);
  });
});
