import { Injectable } from '@nestjs/common';
import type { SshSession } from './ssh-gateway';

/** The SSH connection (and with it the agent's NATS tunnel) held to each instance, by row id. */
@Injectable()
export class SshSessions {
  private readonly sessions = new Map<string, SshSession>();
  private readonly lost = new Map<string, number>();

  set(rowId: string, session: SshSession): void {
    this.sessions.set(rowId, session);
  }

  has(rowId: string): boolean {
    return this.sessions.has(rowId);
  }

  /** Forgets the session without closing it: it dropped by itself, which is the first sign of a host stopping the instance. */
  dropped(rowId: string): void {
    this.sessions.delete(rowId);
    this.lost.set(rowId, Date.now());
  }

  /** When the connection to the instance last dropped by itself (ms), if it did. */
  droppedAt(rowId: string): number | undefined {
    return this.lost.get(rowId);
  }

  close(rowId: string): void {
    const s = this.sessions.get(rowId);
    this.sessions.delete(rowId);
    this.lost.delete(rowId);
    s?.close();
  }
}
